/**
 * HTTP and WebSocket server on Node: @hono/node-server runs the app on node:http (node:https for
 * TLS) and @hono/node-ws upgrades with the ws package (notes/runtimes.md §1.4).
 */
import { listenBounded } from './listen-bounded.ts'
import { EventEmitter } from 'node:events'
import http from 'node:http'
import https from 'node:https'
import type net from 'node:net'
import type { Duplex } from 'node:stream'
import { createAdaptorServer } from '@hono/node-server'
import { createNodeWebSocket } from '@hono/node-ws'
import type { Context } from 'hono'
import type { WebSocket as WsSocket } from 'ws'
import type { HttpServeOptions, WebSocketAccept } from '../http-types.ts'
import type { Family, SocketAddress, StreamListener } from '../types.ts'
import { messageConn } from './message-conn.ts'

function familyOf(address: string): Family {
  return address.includes(':') && !address.startsWith('::ffff:') ? 6 : 4
}

export function addressOf(address: string | undefined, port: number | undefined): SocketAddress {
  let a = address ?? ''
  if (a.startsWith('::ffff:') && a.includes('.')) a = a.slice(7)
  return { address: a, port: port ?? 0, family: familyOf(a) }
}

/** Wraps a `ws` package WebSocket (server or client side) as a message conn. */
export function wsPackageConn(ws: WsSocket, remote: SocketAddress, local: SocketAddress) {
  return messageConn({
    send(data) {
      ws.send(data, { binary: true })
      return true
    },
    bufferedAmount: () => ws.bufferedAmount,
    close: (code, reason) => ws.close(code, reason),
    terminate: () => ws.terminate(),
  }, remote, local)
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

export function serveHttp(opts: HttpServeOptions): Promise<StreamListener> {
  // The subprotocol the app chose for each request, read back by ws's handleProtocols.
  const chosen = new WeakMap<http.IncomingMessage, string>()
  let upgradeWebSocket!: ReturnType<typeof createNodeWebSocket>['upgradeWebSocket']
  const app = opts.app((c: Context, accept: WebSocketAccept) => {
    const incoming = (c.env as { incoming: http.IncomingMessage }).incoming
    chosen.set(incoming, accept.protocol)
    const remote = addressOf(incoming.socket.remoteAddress, incoming.socket.remotePort)
    const local = addressOf(incoming.socket.localAddress, incoming.socket.localPort)
    let control: ReturnType<typeof wsPackageConn> | undefined
    const middleware = upgradeWebSocket(() => ({
      onOpen(_evt, ws) {
        control = wsPackageConn(ws.raw as WsSocket, remote, local)
        accept.onOpen(control.conn)
      },
      onMessage(evt) {
        if (typeof evt.data === 'string') control?.text()
        else control?.message(new Uint8Array(evt.data as ArrayBuffer))
      },
      onClose() {
        control?.closed()
      },
      onError(evt) {
        control?.closed((evt as ErrorEvent).error as Error)
      },
    }))
    return middleware(c, async () => {}) as Promise<Response>
  })
  const server = createAdaptorServer(({
    fetch: app.fetch,
    overrideGlobalObjects: false,
    createServer: (opts.tls ? https.createServer : http.createServer) as typeof http.createServer,
    serverOptions: opts.tls ? { cert: opts.tls.cert, key: opts.tls.key, ca: opts.tls.ca, requestCert: opts.tls.requestCert ?? false, rejectUnauthorized: opts.tls.requestCert ?? false, minVersion: 'TLSv1.2' } : {},
  }) as never) as http.Server
  const nodeWs = createNodeWebSocket({ app: app as never })
  upgradeWebSocket = nodeWs.upgradeWebSocket
  nodeWs.wss.options.handleProtocols = (_offered: Set<string>, req: http.IncomingMessage) => chosen.get(req) ?? false
  // @hono/node-ws answers a refused upgrade with a bare status line: take the upgrade event
  // ourselves, send refusals whole, and hand the rest to its listener.
  const capture = new EventEmitter()
  nodeWs.injectWebSocket(capture as unknown as http.Server)
  const nodeWsUpgrade = capture.listeners('upgrade')[0] as (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {})
    const refusal = opts.checkUpgrade?.(requestOf(req))
    if (refusal) void writeRefusal(socket, refusal)
    else nodeWsUpgrade(req, socket, head)
  })
  const sockets = new Set<net.Socket>()
  server.on('connection', (s: net.Socket) => {
    s.setNoDelay(true)
    s.on('error', () => {})
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  server.on('secureConnection', (s: net.Socket) => s.on('error', () => {}))
  // A client whose handshake failed (no or a foreign certificate) is cut at once; left alone, the
  // connection stayed open now and then and the client waited for an answer that never came.
  server.on('tlsClientError', (_err: Error, s: net.Socket) => s.destroy())
  server.on('clientError', (_err, s: Duplex) => s.destroy())
  return new Promise((resolve, reject) => {
    listenBounded(server, opts, {
      closeGently: () => {
        for (const ws of nodeWs.wss.clients) ws.terminate()
        server.closeIdleConnections?.()
      },
      cutAll: () => {
        for (const s of sockets) s.destroy()
      },
    }).then(resolve, reject)
  })
}
