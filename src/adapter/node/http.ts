/**
 * HTTP and WebSocket server on every runtime: node:http (with node:tls in front for https) and
 * @hono/node-server's request listener turning IncomingMessage into a web Request and the Response
 * back, and the ws package for upgrades (docs/runtimes.md#websocket). Each raw connection is
 * admitted through the half's gate and has a hello deadline (./guard.ts). The upgrade wiring is
 * ours: per-connection closures (as @hono/node-ws had) kept the whole request alive as long as the
 * tunnel.
 */
import { listenBounded } from './listen-bounded.ts'
import { ConnectionGuard, TLS_PROFILE } from './guard.ts'
import http from 'node:http'
import tls from 'node:tls'
import type net from 'node:net'
import type { Duplex } from 'node:stream'
import { getRequestListener, type HttpBindings, type Http2Bindings } from '@hono/node-server'
import { WebSocketServer, type WebSocket as WsSocket } from 'ws'
import type { HttpServeOptions, WebSocketAccept } from '../../ports/http.ts'
import type { Family, SocketAddress, StreamListener } from '../../ports/runtime.ts'
import { messageConn, type MessageConnControl, type MessageSocket } from './message-conn.ts'
import { socketAddress } from '../../base/address.ts'

const addressOf = socketAddress

const BINARY = { binary: true }

/** A `ws` package WebSocket as a MessageSocket (a class: no closures per connection). */
class WsPackageSocket implements MessageSocket {
  private readonly ws: WsSocket
  constructor(ws: WsSocket) {
    this.ws = ws
  }
  send(data: Uint8Array): boolean {
    this.ws.send(data, BINARY)
    return true
  }
  bufferedAmount(): number {
    return this.ws.bufferedAmount
  }
  close(code: number, reason: string): void {
    this.ws.close(code, reason)
  }
  terminate(): void {
    this.ws.terminate()
  }
}

const CONTROL = Symbol('edgerelay.control')
/** The server's set of open sockets (net or ws), on each socket, so one shared close listener can drop it. */
const OPEN = Symbol('edgerelay.open')
type WiredSocket = WsSocket & { [CONTROL]: MessageConnControl; [OPEN]?: Set<WsSocket> }

const controlOf = (ws: WsSocket): MessageConnControl => (ws as WiredSocket)[CONTROL]

// Shared listeners (`this` is the WebSocket): nothing allocated per connection for them.
function onWsMessage(this: WsSocket, data: Buffer, isBinary: boolean): void {
  // A plain view: Buffer's slice() does not copy, Uint8Array's (used for early messages) does.
  if (isBinary) controlOf(this).message(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
  else controlOf(this).text()
}
function onWsClose(this: WsSocket): void {
  ;(this as WiredSocket)[OPEN]?.delete(this)
  controlOf(this).closed()
}
function onWsError(this: WsSocket, err: Error): void {
  controlOf(this).closed(err)
}

/** Wraps an open `ws` package WebSocket (server or client side) as a message conn. */
export function wsPackageConn(ws: WsSocket, remote: SocketAddress, local: SocketAddress): MessageConnControl {
  const control = messageConn(new WsPackageSocket(ws), remote, local)
  ;(ws as WiredSocket)[CONTROL] = control
  ws.on('message', onWsMessage)
  ws.on('close', onWsClose)
  ws.on('error', onWsError)
  return control
}

/** Writes a whole HTTP response on a socket that asked for an upgrade, then closes it. */
async function writeRefusal(socket: Duplex, res: Response): Promise<void> {
  const body = new Uint8Array(await res.arrayBuffer())
  const lines = [`HTTP/1.1 ${res.status} ${http.STATUS_CODES[res.status] ?? ''}`]
  res.headers.forEach((v, k) => {
    if (k !== 'content-length' && k !== 'connection') lines.push(`${k}: ${v}`)
  })
  lines.push(`content-length: ${body.length}`, 'connection: close', '', '')
  socket.end(Buffer.concat([Buffer.from(lines.join('\r\n')), body]))
}

function requestOf(req: http.IncomingMessage): Request {
  const headers = new Headers()
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v)
  return new Request(new URL(req.url ?? '/', 'http://localhost'), { headers })
}

const ends = (s: net.Socket) => ({ remote: addressOf(s.remoteAddress, s.remotePort), local: addressOf(s.localAddress, s.localPort) })

/** Idle time of a kept-alive connection between requests. */
const KEEP_ALIVE_MS = 5000
/** The whole of a request (headers and body) must have arrived within this time. */
const REQUEST_MS = 30_000
const STATUS_503 = 'HTTP/1.1 503 Service Unavailable'

/** The answer to a connection the gate refused, written before its request is read (plain HTTP). */
function refusalResponse(reason: string): Uint8Array {
  const body = Buffer.from(`${reason}\n`)
  const head = [STATUS_503, 'content-type: text/plain; charset=utf-8', 'retry-after: 10', 'x-edgerelay-error: E_LIMIT', 'connection: close', `content-length: ${body.length}`, '', ''].join('\r\n')
  return Buffer.concat([Buffer.from(head), body])
}

function ignore(): void {}
function forget(this: net.Socket & { [OPEN]: Set<net.Socket> }): void {
  this[OPEN].delete(this)
}

export function serveHttp(opts: HttpServeOptions): Promise<StreamListener> {
  const handler = opts.handler
  // Admission and the hello deadline (the TLS handshake and the first request's headers).
  const guard = new ConnectionGuard({ gate: opts.gate, helloTimeoutMs: opts.helloTimeoutMs, refusal: opts.tls ? undefined : refusalResponse })
  const listener = getRequestListener((request: Request, env: HttpBindings | Http2Bindings) => {
    const socket = env.incoming.socket as net.Socket
    return handler(request, { ...ends(socket), ticket: guard.started(socket) })
  }, {
    overrideGlobalObjects: false,
    errorHandler: () => new Response('internal error\n', { status: 500 }),
  })
  const timeouts = {
    headersTimeout: opts.helloTimeoutMs,
    requestTimeout: Math.max(REQUEST_MS, opts.helloTimeoutMs + 1000),
    keepAliveTimeout: KEEP_ALIVE_MS,
    // How often Node checks headersTimeout and requestTimeout (default 30 s).
    connectionsCheckingInterval: 1000,
  }
  const server = http.createServer(timeouts, listener)
  // HTTPS is node:tls in front of the HTTP server, which gets each TLS socket as a connection:
  // Bun's node:https reports no raw connection (so the gate could not admit one) and has no
  // handshake timeout; node:tls has both on every runtime.
  const front: net.Server = opts.tls
    ? tls.createServer({ ...TLS_PROFILE, cert: opts.tls.cert, key: opts.tls.key, ca: opts.tls.ca, requestCert: opts.tls.requestCert ?? false, rejectUnauthorized: opts.tls.requestCert ?? false, handshakeTimeout: opts.helloTimeoutMs, ALPNProtocols: ['http/1.1'] }, (s) => server.emit('connection', s))
    : server
  // The subprotocol the handler chose for each request, read back by ws's handleProtocols.
  const chosen = new WeakMap<http.IncomingMessage, string>()
  // clientTracking off: ws would add one more close listener (a closure) per connection; `open`
  // tracks them through the shared one instead.
  // maxPayload: a bigger message than any legal one closes the WebSocket (1009) as it arrives.
  const wss = new WebSocketServer({ noServer: true, clientTracking: false, perMessageDeflate: false, maxPayload: Math.max(1, opts.maxMessageBytes ?? 65_536), handleProtocols: (_offered: Set<string>, req: http.IncomingMessage) => chosen.get(req) ?? false })
  const open = new Set<WsSocket>()
  const upgrade = async (req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    const { remote, local } = ends(socket as net.Socket)
    let accepted: WebSocketAccept | undefined
    const upgradeTo = (accept: WebSocketAccept): Response => {
      accepted = accept
      // Not sent: the upgrade below answers on the socket.
      return new Response(null, { status: 200 })
    }
    let res: Response
    try {
      res = await handler(requestOf(req), { remote, local, upgrade: upgradeTo, ticket: guard.started(socket as net.Socket) })
    } catch {
      res = new Response('internal error\n', { status: 500 })
    }
    // Anything but an accept (wrong path, 426, 401) goes back whole: status, reason and headers.
    if (!accepted) return writeRefusal(socket, res)
    const accept = accepted
    chosen.set(req, accept.protocol)
    wss.handleUpgrade(req, socket, head, (ws) => {
      open.add(ws)
      ;(ws as WiredSocket)[OPEN] = open
      accept.onOpen(wsPackageConn(ws, remote, local).conn)
    })
  }
  // Every socket already has an error listener ('connection', 'secureConnection' below).
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    upgrade(req, socket, head).catch(() => socket.destroy())
  })
  const sockets = new Set<net.Socket>()
  // Raw TCP connections (under TLS too), admitted before anything else.
  front.on('connection', (s: net.Socket & { [OPEN]: Set<net.Socket> }) => {
    s.on('error', ignore)
    if (!guard.accept(s)) return
    s.setNoDelay(true)
    sockets.add(s)
    s[OPEN] = sockets
    s.on('close', forget)
  })
  front.on('secureConnection', (s: net.Socket) => s.on('error', ignore))
  // A client whose handshake failed (no or a foreign certificate) is cut at once; left alone, the
  // connection stayed open now and then and the client waited for an answer that never came.
  front.on('tlsClientError', (_err: Error, s: net.Socket) => s.destroy())
  server.on('clientError', (_err, s: Duplex) => s.destroy())
  return new Promise((resolve, reject) => {
    listenBounded(front, opts, {
      closeGently: () => {
        for (const ws of open) ws.terminate()
        server.closeIdleConnections?.()
      },
      cutAll: () => {
        for (const s of sockets) s.destroy()
      },
    }).then(resolve, reject)
  })
}
