/**
 * HTTP and WebSocket server on Deno: Deno.serve runs the Hono app, Deno.upgradeWebSocket upgrades
 * (what hono/deno's helper calls; we call it ourselves to answer with the subprotocol the app
 * chose rather than the first one offered, and to keep the remote address).
 */
import type { Context } from 'hono'
import type { HttpServeOptions, WebSocketAccept } from '../http-types.ts'
import { messageConn } from '../node/message-conn.ts'
import type { Family, SocketAddress, StreamListener } from '../types.ts'

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

function familyOf(address: string): Family {
  return address.includes(':') ? 6 : 4
}

/** Deno's WebSocket buffers without limit; a poll notices when it drained (there is no event). */
const DRAIN_POLL_MS = 20

export function serveHttp(opts: HttpServeOptions): Promise<StreamListener> {
  // Client certificates: Deno.serve's TLS cannot verify them (notes/runtimes.md §3.6); node:https can, here too.
  if (opts.tls?.requestCert) return import('../node/http.ts').then((m) => m.serveHttp(opts))
  let local: SocketAddress = { address: opts.address, port: opts.port, family: opts.family }
  const open = new Set<WebSocket>()
  const app = opts.app((c: Context, accept: WebSocketAccept) => {
    const info = c.env as DenoServeInfo
    const remote: SocketAddress = { address: info.remoteAddr.hostname, port: info.remoteAddr.port, family: familyOf(info.remoteAddr.hostname) }
    // idleTimeout 0: Session heartbeats, not Deno's pings, decide when a peer is dead.
    const { socket, response } = Deno.upgradeWebSocket(c.req.raw, { protocol: accept.protocol, idleTimeout: 0 })
    socket.binaryType = 'arraybuffer'
    let poll: ReturnType<typeof setInterval> | undefined
    const control = messageConn({
      send(data) {
        socket.send(data as Uint8Array<ArrayBuffer>)
        if (poll === undefined && socket.bufferedAmount > 0) {
          poll = setInterval(() => {
            if (socket.bufferedAmount > 0) return
            clearInterval(poll)
            poll = undefined
            control.drained()
          }, DRAIN_POLL_MS)
        }
        return true
      },
      bufferedAmount: () => socket.bufferedAmount,
      close: (code, reason) => socket.close(code, reason),
      // Deno has no abort for a server WebSocket: close without waiting for the peer's answer.
      terminate: () => socket.close(1001, 'going away'),
    }, remote, local)
    socket.onopen = () => {
      open.add(socket)
      accept.onOpen(control.conn)
    }
    socket.onmessage = (ev: MessageEvent) => {
      if (typeof ev.data === 'string') control.text()
      else control.message(new Uint8Array(ev.data as ArrayBuffer))
    }
    socket.onclose = () => {
      open.delete(socket)
      if (poll !== undefined) clearInterval(poll)
      control.closed()
    }
    socket.onerror = () => {}
    return response
  })
  return new Promise((resolve, reject) => {
    let server: DenoHttpServer
    try {
      server = Deno.serve({
        hostname: opts.address,
        port: opts.port,
        ...(opts.tls ? { cert: opts.tls.cert, key: opts.tls.key } : {}),
        onListen() {},
        onError: () => new Response('internal error', { status: 500 }),
      }, (req, info) => app.fetch(req, info))
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
