import net from 'node:net'
import { listenBounded } from './listen-bounded.ts'
import type { Family, SocketAddress, StreamConn, StreamHandlers, StreamListener, TcpConnectOptions, TcpListenOptions } from '../../ports/runtime.ts'
import { socketAddress } from '../../base/address.ts'

/** Above this many bytes queued in user space, write() reports backpressure. */
const HIGH_WATER = 1 << 20

// Dual-stack sockets report IPv4 peers as ::ffff:a.b.c.d: socketAddress() shows them as IPv4 before logging or keying (S7).
const addressOf = socketAddress

/** How to take a wrapped socket back from its StreamConn (STARTTLS hands it to node:tls). */
const detachers = new WeakMap<StreamConn, () => net.Socket>()

/**
 * The socket under `conn`, which stops reading it: its listeners are removed and writes corked
 * for this turn are flushed first, so they leave before anything the new owner writes. Undefined
 * for a conn this adapter did not wrap.
 */
export function detachSocket(conn: StreamConn): net.Socket | undefined {
  const detach = detachers.get(conn)
  detachers.delete(conn)
  return detach?.()
}

/** Wraps a node:net (or node:tls) socket as a StreamConn. Exported for the TLS adapter. */
export function wrapSocket(socket: net.Socket): StreamConn {
  socket.setNoDelay(true)
  let handlers: StreamHandlers | undefined
  let closed = false
  let closeError: Error | undefined
  const pending: Uint8Array[] = []
  let corked = false
  const uncork = () => {
    if (!corked) return
    corked = false
    socket.uncork()
  }
  const onData = (chunk: Uint8Array) => {
    if (handlers) handlers.onData(chunk)
    else pending.push(chunk)
  }
  const onDrain = () => handlers?.onDrain?.()
  const onEnd = () => handlers?.onEnd?.()
  const onError = (err: Error) => {
    closeError ??= err
    // A TLS alert after the handshake (a server refusing our certificate under TLS 1.3) errors
    // the socket without closing it; a half-open socket whose writes never flush would then
    // never report 'close'. An error always ends the connection.
    socket.destroy()
  }
  const onClose = () => {
    closed = true
    handlers?.onClose(closeError)
  }
  socket.on('data', onData)
  socket.on('drain', onDrain)
  socket.on('end', onEnd)
  socket.on('error', onError)
  socket.on('close', onClose)
  const conn: StreamConn = {
    remote: addressOf(socket.remoteAddress, socket.remotePort),
    local: addressOf(socket.localAddress, socket.localPort),
    write(data) {
      if (closed || socket.destroyed) return false
      // Frames written in one event-loop turn leave in one writev: cork now, uncork once the
      // turn's I/O callbacks have run (setImmediate runs right after the poll phase).
      if (!corked) {
        corked = true
        socket.cork()
        setImmediate(uncork)
      }
      socket.write(data)
      return socket.writableLength < HIGH_WATER
    },
    get bufferedAmount() {
      return socket.writableLength
    },
    setHandlers(h) {
      handlers = h
      for (const chunk of pending.splice(0)) h.onData(chunk)
      if (closed) h.onClose(closeError)
    },
    end() {
      socket.end()
    },
    destroy(err) {
      socket.destroy(err)
    },
    reset() {
      // resetAndDestroy (Node 16.17+) sends a RST; a runtime without it closes normally.
      const s = socket as net.Socket & { resetAndDestroy?: () => void }
      if (typeof s.resetAndDestroy === 'function' && !socket.destroyed && !socket.connecting) s.resetAndDestroy()
      else socket.destroy()
    },
    pause() {
      socket.pause()
    },
    resume() {
      socket.resume()
    },
  }
  detachers.set(conn, () => {
    uncork()
    socket.off('data', onData)
    socket.off('drain', onDrain)
    socket.off('end', onEnd)
    socket.off('error', onError)
    socket.off('close', onClose)
    return socket
  })
  return conn
}

export function listenTcp(opts: TcpListenOptions): Promise<StreamListener> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer({ noDelay: true, pauseOnConnect: false, allowHalfOpen: opts.allowHalfOpen ?? false }, (socket) => {
    // A reset before we look at it must not surface as an unhandled error.
    socket.on('error', () => {})
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    opts.onConnection(wrapSocket(socket))
  })
  return listenBounded(server, opts, { cutAll: () => sockets.forEach((s) => s.destroy()) })
}

export function connectTcp(opts: TcpConnectOptions): Promise<StreamConn> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) return reject(opts.signal.reason)
    const socket = net.connect({
      host: opts.address,
      port: opts.port,
      localAddress: opts.localAddress,
      localPort: opts.localPort,
      noDelay: true,
      allowHalfOpen: opts.allowHalfOpen ?? false,
      // Racing happens in the core (spec C-rules); the runtime must dial exactly the literal we give.
      autoSelectFamily: false,
    })
    const onAbort = () => socket.destroy(opts.signal?.reason as Error)
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    socket.once('error', (err) => {
      opts.signal?.removeEventListener('abort', onAbort)
      reject(err)
    })
    socket.once('connect', () => {
      opts.signal?.removeEventListener('abort', onAbort)
      socket.removeAllListeners('error')
      resolve(wrapSocket(socket))
    })
  })
}
