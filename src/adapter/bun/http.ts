/**
 * HTTP and WebSocket server on Bun: Bun.serve hands requests to the handler; WebSockets use
 * Bun.serve's own handlers (about twice Node+ws, docs/runtimes.md#websocket-round-trips), because we need `drain`
 * (backpressure), to answer with the subprotocol the handler chose (Bun otherwise echoes the first
 * one offered), and to read a binary message through its view, not its whole underlying buffer.
 */
import type { HttpServeOptions, WebSocketAccept } from '../../ports/http.ts'
import { messageConn, type MessageConnControl } from '../node/message-conn.ts'
import type { Family, SocketAddress, StreamListener } from '../../ports/runtime.ts'
import { familyOf } from '../../base/address.ts'

// --- types (the parts of Bun's API used here) ---

interface BunServerWebSocket {
  data: SocketData
  send(data: Uint8Array, compress?: boolean): number
  getBufferedAmount(): number
  close(code?: number, reason?: string): void
  terminate(): void
}

interface SocketData {
  accept: WebSocketAccept
  remote: SocketAddress
  local: SocketAddress
  control?: MessageConnControl
}

interface BunServer {
  port: number
  hostname: string
  upgrade(req: Request, opts: { headers?: Record<string, string>; data: SocketData }): boolean
  requestIP(req: Request): { address: string; port: number } | null
  stop(closeActive?: boolean): Promise<void> | void
}

declare const Bun: { serve(opts: Record<string, unknown>): BunServer }

// --- adapter ---


export function serveHttp(opts: HttpServeOptions): Promise<StreamListener> {
  // Client certificates: Bun.serve's TLS reports a foreign client certificate as a success
  // (docs/runtimes.md#buns-native-tls-accepts-a-foreign-client-certificate); node:https checks them, here too.
  if (opts.tls?.requestCert) return import('../node/http.ts').then((m) => m.serveHttp(opts))
  let local: SocketAddress = { address: opts.address, port: opts.port, family: opts.family }
  const open = new Set<BunServerWebSocket>()
  let server: BunServer
  try {
    server = Bun.serve({
      hostname: opts.address,
      port: opts.port,
      ipv6Only: opts.ipv6Only ?? false,
      reusePort: false,
      ...(opts.tls ? { tls: { cert: opts.tls.cert, key: opts.tls.key, ca: opts.tls.ca, requestCert: opts.tls.requestCert ?? false, rejectUnauthorized: opts.tls.requestCert ?? false } } : {}),
      fetch: (req: Request, srv: BunServer) => {
        const ip = srv.requestIP(req)
        const remote: SocketAddress = { address: ip?.address ?? '', port: ip?.port ?? 0, family: familyOf(ip?.address ?? '') }
        const wantsUpgrade = req.headers.get('upgrade')?.toLowerCase() === 'websocket'
        return opts.handler(req, {
          remote,
          local,
          ...(wantsUpgrade
            ? {
                upgrade: (accept: WebSocketAccept) => {
                  const ok = srv.upgrade(req, { headers: { 'Sec-WebSocket-Protocol': accept.protocol }, data: { accept, remote, local } })
                  // After a successful upgrade Bun ignores the response.
                  return ok ? new Response(null) : new Response('WebSocket upgrade failed\n', { status: 400 })
                },
              }
            : {}),
        })
      },
      websocket: {
        // Session heartbeats keep quiet tunnels alive; Bun's own idle cut (120 s) would race them.
        idleTimeout: 0,
        perMessageDeflate: false,
        open(ws: BunServerWebSocket) {
          open.add(ws)
          const control = messageConn({
            send: (data) => ws.send(data) !== 0,
            bufferedAmount: () => ws.getBufferedAmount(),
            close: (code, reason) => ws.close(code, reason),
            terminate: () => ws.terminate(),
          }, ws.data.remote, ws.data.local)
          ws.data.control = control
          ws.data.accept.onOpen(control.conn)
        },
        message(ws: BunServerWebSocket, message: string | Uint8Array) {
          if (typeof message === 'string') ws.data.control?.text()
          else ws.data.control?.message(message)
        },
        close(ws: BunServerWebSocket) {
          open.delete(ws)
          ws.data.control?.closed()
        },
        drain(ws: BunServerWebSocket) {
          ws.data.control?.drained()
        },
      },
    })
  } catch (err) {
    return Promise.reject(err)
  }
  local = { address: opts.address, port: server.port, family: opts.family }
  return Promise.resolve({
    local,
    close: async () => {
      for (const ws of open) ws.terminate()
      await server.stop(true)
    },
  })
}
