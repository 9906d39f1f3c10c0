import { Duplex } from 'node:stream'
import { setImmediate } from 'node:timers'
import type { StreamConn } from '../../ports/runtime.ts'

/**
 * A StreamConn the core dialled (address layer, TLS included) as a node:stream Duplex, so client
 * libraries that want a socket (ws, node:http2) run over it instead of dialling on their own.
 * Works the same on Node, Bun and Deno (measured with http2.connect and ws createConnection).
 */
export function duplexOf(conn: StreamConn): Duplex {
  let waiting: (() => void) | undefined
  const duplex = new Duplex({
    read() {},
    write(chunk: Uint8Array, _enc, callback) {
      if (conn.write(chunk)) callback()
      else waiting = callback
    },
    final(callback) {
      conn.end()
      callback()
    },
    destroy(err, callback) {
      conn.destroy(err ?? undefined)
      callback(err)
    },
  })
  // Consumers attach their own error listeners; one that has not yet (or no longer has) must not
  // turn a closed connection into an uncaught exception.
  duplex.on('error', () => {})
  conn.setHandlers({
    // Adapters may reuse their read buffers: copy what we queue.
    onData: (chunk) => duplex.push(Buffer.from(chunk)),
    // Deferred: a connection that is already gone calls this inside setHandlers, before the
    // consumer (http's ClientRequest attaches in a nextTick) could hear about it.
    onClose: (err) => setImmediate(() => {
      const cb = waiting
      waiting = undefined
      cb?.()
      if (err) duplex.destroy(err)
      else {
        duplex.push(null)
        duplex.destroy()
      }
    }),
    onDrain: () => {
      const cb = waiting
      waiting = undefined
      cb?.()
    },
  })
  // Socket methods client libraries call on what they believe is a net.Socket.
  const socketish = duplex as Duplex & Record<string, unknown>
  socketish.setNoDelay = () => duplex
  socketish.setKeepAlive = () => duplex
  socketish.setTimeout = (_ms: number, cb?: () => void) => {
    if (cb) duplex.once('timeout', cb)
    return duplex
  }
  socketish.ref = () => duplex
  socketish.unref = () => duplex
  socketish.remoteAddress = conn.remote.address
  socketish.remotePort = conn.remote.port
  socketish.remoteFamily = conn.remote.family === 6 ? 'IPv6' : 'IPv4'
  socketish.localAddress = conn.local.address
  socketish.localPort = conn.local.port
  return duplex
}
