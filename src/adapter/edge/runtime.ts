/**
 * The edge adapter (DESIGN.md §4): a Runtime for platforms that hand us HTTP requests instead of
 * letting us listen (Cloudflare Workers / workerd, Deno Deploy / `deno serve`): WebSocket in, TCP
 * out, no UDP. serveHttp does not bind anything: it keeps the app the connector built (the same
 * Hono app ws/server runs everywhere) and `dispatch()` feeds it the platform's requests. A host
 * (./workerd.ts, ./deno-deploy.ts) supplies the two platform calls: upgrade and connect.
 */
import type { Context } from 'hono'
import type { HttpApp, HttpServeOptions, WebSocketAccept } from '../http-types.ts'
import type { Family, ResolvedAddress, Runtime, SocketAddress, StreamConn, TcpConnectOptions } from '../types.ts'
import { edgeWebSocketConn, type EdgeWebSocket } from './message-conn.ts'
import { streamsConn, type WebStreamSocket } from './streams-conn.ts'

export interface EdgeTcpSocket extends WebStreamSocket {
  remote?: SocketAddress
  local?: SocketAddress
}

/** What an edge platform provides. */
export interface EdgeHost {
  name: string
  /** Accepts the WebSocket upgrade of `request` answering with `protocol`; `opened` settles once it is open. */
  upgrade(request: Request, protocol: string): { socket: EdgeWebSocket; response: Response; opened: Promise<void> }
  /** Opens a TCP connection (the platform may resolve names itself). */
  connect(address: string, port: number, signal?: AbortSignal): Promise<EdgeTcpSocket>
  /** The peer of a request, when the platform says. */
  remoteOf?(request: Request, env: unknown): SocketAddress | undefined
}

export interface EdgeRuntime extends Runtime {
  /** Runs a request through the app of the half's ws/server (started with this runtime). */
  dispatch(request: Request, env?: unknown): Promise<Response>
  /** Called with each WebSocket this runtime accepted, and its end. */
  onSocket?: (closed: Promise<void>) => void
}

const familyOf = (address: string): Family => (address.includes(':') ? 6 : 4)
const unknownPeer: SocketAddress = { address: '0.0.0.0', port: 0, family: 4 }

function unsupported(what: string): Promise<never> {
  return Promise.reject(Object.assign(new Error(`${what} is not available on the edge (WebSocket in, TCP out only)`), { code: 'E_UNSUPPORTED_ON_RUNTIME' }))
}

export function edgeRuntime(host: EdgeHost): EdgeRuntime {
  let app: HttpApp | undefined
  let served: SocketAddress = { address: '0.0.0.0', port: 0, family: 4 }
  const rt: EdgeRuntime = {
    name: 'edge',
    capabilities: { udpIpv6Only: false, keepsZoneOnReceive: false },
    bindUdp: () => unsupported('UDP'),
    bindMulticast: () => unsupported('UDP multicast'),
    listenTcp: () => unsupported('a TCP listener'),
    async connectTcp(o: TcpConnectOptions): Promise<StreamConn> {
      if (o.signal?.aborted) throw o.signal.reason ?? new Error('aborted')
      const sock = await host.connect(o.address, o.port, o.signal)
      const remote = sock.remote ?? { address: o.address, port: o.port, family: familyOf(o.address) }
      return streamsConn(sock, remote, sock.local ?? { address: '0.0.0.0', port: 0, family: remote.family })
    },
    // The platform resolves names when it connects: hand the name through.
    lookup: async (name: string, family?: Family): Promise<ResolvedAddress[]> => [{ address: name, family: family ?? 4 }],
    serveHttp(opts: HttpServeOptions) {
      served = { address: opts.address, port: opts.port, family: opts.family }
      app = opts.app((c: Context, accept: WebSocketAccept) => {
        // The peer first: Deno's request info is gone once the request is upgraded.
        const remote = host.remoteOf?.(c.req.raw, c.env) ?? unknownPeer
        const { socket, response, opened } = host.upgrade(c.req.raw, accept.protocol)
        void opened.then(() => {
          const { conn, closed } = edgeWebSocketConn(socket, remote, served)
          rt.onSocket?.(closed)
          accept.onOpen(conn)
        })
        return response
      })
      return Promise.resolve({ local: served, close: async () => {} })
    },
    connectWebSocket: () => unsupported('ws/client'),
    async dispatch(request, env) {
      if (!app) return new Response('edgerelay: the half has no ws/server in-connector\n', { status: 500 })
      return await app.fetch(request, env)
    },
  }
  return rt
}
