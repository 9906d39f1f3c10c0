/**
 * HTTP and WebSocket server on Deno: Deno.serve hands requests to the handler,
 * Deno.upgradeWebSocket upgrades, answering with the subprotocol the handler chose.
 */
import type { HttpServeOptions, WebSocketAccept } from '../../ports/http.ts'
import { messageConn, type MessageConnControl, type MessageSocket } from '../node/message-conn.ts'
import type { Family, SocketAddress, StreamListener } from '../../ports/runtime.ts'
import { familyOf } from '../../base/address.ts'

// --- types (the parts of Deno's API used here) ---

interface DenoAddr {
  hostname: string
  port: number
}

interface DenoServeInfo {
  remoteAddr: DenoAddr
}

interface DenoHttpServer {
  addr: DenoAddr
  shutdown(): Promise<void>
  finished: Promise<void>
}

declare const Deno: {
  serve(opts: Record<string, unknown>, handler: (req: Request, info: DenoServeInfo) => Response | Promise<Response>): DenoHttpServer
  upgradeWebSocket(req: Request, opts: { protocol?: string; idleTimeout?: number }): { socket: WebSocket; response: Response }
}

// --- adapter ---


/** Deno's WebSocket buffers without limit; a poll notices when it drained (there is no event). */
const DRAIN_POLL_MS = 20

/**
 * One server WebSocket as a MessageSocket, with what its listeners need. A class and shared
 * listener functions: per-connection closures (and the wrappers Deno puts around on* handlers)
 * cost heap for as long as each idle tunnel lives.
 */
class DenoSocket implements MessageSocket {
  readonly socket: WebSocket
  readonly control: MessageConnControl
  /** Until the socket opens: the app's accept and the server's set of open sockets. */
  accept: WebSocketAccept | undefined
  readonly open: Set<WebSocket>
  poll: ReturnType<typeof setInterval> | undefined = undefined

  constructor(socket: WebSocket, accept: WebSocketAccept, open: Set<WebSocket>, remote: SocketAddress, local: SocketAddress) {
    this.socket = socket
    this.accept = accept
    this.open = open
    this.control = messageConn(this, remote, local)
  }

  send(data: Uint8Array): boolean {
    this.socket.send(data as Uint8Array<ArrayBuffer>)
    if (this.poll === undefined && this.socket.bufferedAmount > 0) this.poll = setInterval(pollDrain, DRAIN_POLL_MS, this)
    return true
  }

  bufferedAmount(): number {
    return this.socket.bufferedAmount
  }

  close(code: number, reason: string): void {
    this.socket.close(code, reason)
  }

  /** Deno has no abort for a server WebSocket: close without waiting for the peer's answer. */
  terminate(): void {
    this.socket.close(1001, 'going away')
  }

  stopPoll(): void {
    if (this.poll !== undefined) clearInterval(this.poll)
    this.poll = undefined
  }
}

function pollDrain(s: DenoSocket): void {
  if (s.socket.bufferedAmount > 0) return
  s.stopPoll()
  s.control.drained()
}

const STATE = Symbol('edgerelay.socket')
const stateOf = (ev: Event): DenoSocket => (ev.target as WebSocket & { [STATE]: DenoSocket })[STATE]

function onOpen(ev: Event): void {
  const s = stateOf(ev)
  const accept = s.accept!
  s.accept = undefined
  s.open.add(s.socket)
  accept.onOpen(s.control.conn)
}
function onMessage(ev: MessageEvent): void {
  if (typeof ev.data === 'string') stateOf(ev).control.text()
  else stateOf(ev).control.message(new Uint8Array(ev.data as ArrayBuffer))
}
function onClose(ev: Event): void {
  const s = stateOf(ev)
  s.open.delete(s.socket)
  s.stopPoll()
  s.control.closed()
}
function ignore(): void {}

export function serveHttp(opts: HttpServeOptions): Promise<StreamListener> {
  // Client certificates: Deno.serve's TLS cannot verify them
  // (docs/runtimes.md#denos-native-tls-cannot-check-client-certificates); node:https can, here too.
  if (opts.tls?.requestCert) return import('../node/http.ts').then((m) => m.serveHttp(opts))
  let local: SocketAddress = { address: opts.address, port: opts.port, family: opts.family }
  const open = new Set<WebSocket>()
  const upgradeOf = (req: Request, remote: SocketAddress) => (accept: WebSocketAccept): Response => {
    // idleTimeout 0: Session heartbeats, not Deno's pings, decide when a peer is dead.
    const { socket, response } = Deno.upgradeWebSocket(req, { protocol: accept.protocol, idleTimeout: 0 })
    socket.binaryType = 'arraybuffer'
    ;(socket as WebSocket & { [STATE]: DenoSocket })[STATE] = new DenoSocket(socket, accept, open, remote, local)
    socket.addEventListener('open', onOpen)
    socket.addEventListener('message', onMessage)
    socket.addEventListener('close', onClose)
    socket.addEventListener('error', ignore)
    return response
  }
  const handle = (req: Request, info: DenoServeInfo): Response | Promise<Response> => {
    const remote: SocketAddress = { address: info.remoteAddr.hostname, port: info.remoteAddr.port, family: familyOf(info.remoteAddr.hostname) }
    const wantsUpgrade = req.headers.get('upgrade')?.toLowerCase() === 'websocket'
    return opts.handler(req, { remote, local, ...(wantsUpgrade ? { upgrade: upgradeOf(req, remote) } : {}) })
  }
  return new Promise((resolve, reject) => {
    let server: DenoHttpServer
    try {
      server = Deno.serve({
        hostname: opts.address,
        port: opts.port,
        ...(opts.tls ? { cert: opts.tls.cert, key: opts.tls.key } : {}),
        onListen() {},
        onError: () => new Response('internal error', { status: 500 }),
      }, handle)
    } catch (err) {
      reject(err)
      return
    }
    local = { address: opts.address, port: server.addr.port, family: opts.family }
    resolve({
      local,
      close: async () => {
        for (const ws of open) ws.close(1001, 'going away')
        // shutdown() waits for open connections; bound it like the other adapters do.
        await Promise.race([server.shutdown(), new Promise((r) => setTimeout(r, 1000))])
      },
    })
  })
}
