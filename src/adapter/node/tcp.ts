import net from 'node:net'
import { listenBounded } from './listen-bounded.ts'
import { ConnectionGuard } from './guard.ts'
import type { Family, SocketAddress, StreamConn, StreamHandlers, StreamListener, TcpConnectOptions, TcpListenOptions } from '../../ports/runtime.ts'
import { socketAddress } from '../../base/address.ts'

/** Writes at least this large are not corked (see SocketConn.write). */
const UNCORKED_WRITE = 16 * 1024
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
  const conn = new SocketConn(socket)
  ;(socket as Owned)[OWNER] = conn.st
  socket.on('data', onSocketData)
  socket.on('drain', onSocketDrain)
  socket.on('end', onSocketEnd)
  socket.on('error', onSocketError)
  socket.on('close', onSocketClose)
  detachers.set(conn, () => {
    conn.uncork()
    socket.off('data', onSocketData)
    socket.off('drain', onSocketDrain)
    socket.off('end', onSocketEnd)
    socket.off('error', onSocketError)
    socket.off('close', onSocketClose)
    delete (socket as Owned)[OWNER]
    return socket
  })
  return conn
}

/**
 * What a wrapped socket's conn knows, in one object the conn points to: the TLS adapters derive
 * objects from a conn (Object.create), and their method calls must change this state, not their own
 * copy of it.
 */
interface ConnState {
  handlers: StreamHandlers | undefined
  closed: boolean
  closeError: Error | undefined
  /** Data that arrived before setHandlers. */
  pending: Uint8Array[] | undefined
  corked: boolean
}

// The socket's listeners are shared functions that find the state on the socket (`this`): a
// forwarded TCP stream holds one wrapped socket per end, so no closures per connection.
const OWNER = Symbol('edgerelay.conn')
type Owned = net.Socket & { [OWNER]?: ConnState }
function onSocketData(this: Owned, chunk: Uint8Array): void {
  const st = this[OWNER]
  if (!st) return
  if (st.handlers) st.handlers.onData(chunk)
  else (st.pending ??= []).push(chunk)
}
function onSocketDrain(this: Owned): void {
  this[OWNER]?.handlers?.onDrain?.()
}
function onSocketEnd(this: Owned): void {
  this[OWNER]?.handlers?.onEnd?.()
}
function onSocketError(this: Owned, err: Error): void {
  const st = this[OWNER]
  if (st) st.closeError ??= err
  // A TLS alert after the handshake (a server refusing our certificate under TLS 1.3) errors
  // the socket without closing it; a half-open socket whose writes never flush would then
  // never report 'close'. An error always ends the connection.
  this.destroy()
}
function onSocketClose(this: Owned): void {
  const st = this[OWNER]
  if (!st) return
  st.closed = true
  st.handlers?.onClose(st.closeError)
}
const uncorkLater = (conn: SocketConn): void => conn.uncork()

class SocketConn implements StreamConn {
  readonly remote: SocketAddress
  readonly local: SocketAddress
  readonly st: ConnState = { handlers: undefined, closed: false, closeError: undefined, pending: undefined, corked: false }
  private readonly socket: net.Socket

  constructor(socket: net.Socket) {
    this.socket = socket
    this.remote = addressOf(socket.remoteAddress, socket.remotePort)
    this.local = addressOf(socket.localAddress, socket.localPort)
  }

  uncork(): void {
    if (!this.st.corked) return
    this.st.corked = false
    this.socket.uncork()
  }

  write(data: Uint8Array): boolean {
    const socket = this.socket
    const st = this.st
    if (st.closed || socket.destroyed) return false
    if (data.length >= UNCORKED_WRITE) {
      // A large write (stream data) goes out on its own, after whatever small ones were corked:
      // Bun's writev copies every corked buffer into one, and a large one gains nothing from company.
      if (st.corked) this.uncork()
      socket.write(data)
      return socket.writableLength < HIGH_WATER
    }
    // Frames written in one event-loop turn leave in one writev: cork now, uncork once the
    // turn's I/O callbacks have run (setImmediate runs right after the poll phase).
    if (!st.corked) {
      st.corked = true
      socket.cork()
      setImmediate(uncorkLater, this)
    }
    socket.write(data)
    return socket.writableLength < HIGH_WATER
  }

  get bufferedAmount(): number {
    return this.socket.writableLength
  }

  setHandlers(h: StreamHandlers): void {
    const st = this.st
    st.handlers = h
    const pending = st.pending
    st.pending = undefined
    if (pending) for (const chunk of pending) h.onData(chunk)
    if (st.closed) h.onClose(st.closeError)
  }

  end(): void {
    this.socket.end()
  }

  destroy(err?: Error): void {
    this.socket.destroy(err)
  }

  reset(): void {
    // resetAndDestroy (Node 16.17+) sends a RST; a runtime without it closes normally.
    const s = this.socket as net.Socket & { resetAndDestroy?: () => void }
    if (typeof s.resetAndDestroy === 'function' && !s.destroyed && !s.connecting) s.resetAndDestroy()
    else s.destroy()
  }

  pause(): void {
    this.socket.pause()
  }

  resume(): void {
    this.socket.resume()
  }
}

const ignore = (): void => {}

export function listenTcp(opts: TcpListenOptions): Promise<StreamListener> {
  const sockets = new Set<net.Socket>()
  // The hello deadline is the session's; the guard only admits.
  const guard = new ConnectionGuard({ gate: opts.gate, refusal: opts.refusal })
  const forget = function (this: net.Socket) {
    sockets.delete(this)
  }
  const server = net.createServer({ noDelay: true, pauseOnConnect: false, allowHalfOpen: opts.allowHalfOpen ?? false }, (socket) => {
    // A reset before we look at it must not surface as an unhandled error.
    socket.on('error', ignore)
    if (!guard.accept(socket)) return
    sockets.add(socket)
    socket.on('close', forget)
    opts.onConnection(wrapSocket(socket), guard.started(socket))
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
