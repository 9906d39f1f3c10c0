/**
 * The edge adapter (docs/architecture.md): a Runtime for platforms that hand us HTTP requests
 * instead of letting us listen (Cloudflare Workers / workerd, Deno Deploy / `deno serve`): TCP out
 * only, no UDP, no listeners. The WebSocket side is the host's `upgrade`, driven by the edge entry
 * (src/edge/relay.ts) for each request. A host (./workerd.ts, ./deno-deploy.ts) supplies the two
 * platform calls: upgrade and connect.
 */
import { familyOf } from '../../base/address.ts'
import type { Family, ResolvedAddress, Runtime, SocketAddress, StreamConn, TcpConnectOptions } from '../../ports/runtime.ts'
import type { StandardWebSocket } from '../web/websocket-conn.ts'
import { streamsConn, type WebStreamSocket } from '../web/streams-conn.ts'

export interface EdgeTcpSocket extends WebStreamSocket {
  remote?: SocketAddress
  local?: SocketAddress
}

/** What an edge platform provides. */
export interface EdgeHost {
  name: string
  /** Accepts the WebSocket upgrade of `request` answering with `protocol`; `opened` settles once it is open. */
  upgrade(request: Request, protocol: string): { socket: StandardWebSocket; response: Response; opened: Promise<void> }
  /**
   * Opens a TCP connection (the platform resolves names itself); with `allowHalfOpen` the
   * readable ends at the peer's FIN while the writable stays open.
   */
  connect(address: string, port: number, signal?: AbortSignal, opts?: { allowHalfOpen?: boolean }): Promise<EdgeTcpSocket>
  /** The peer of a request, when the platform says. */
  remoteOf?(request: Request, env: unknown): SocketAddress | undefined
}

function unsupported(what: string): Promise<never> {
  return Promise.reject(Object.assign(new Error(`${what} is not available on the edge (WebSocket in, TCP out only)`), { code: 'E_UNSUPPORTED_ON_RUNTIME' }))
}

export function edgeRuntime(host: EdgeHost): Runtime {
  return {
    name: 'edge',
    capabilities: { udpIpv6Only: false, keepsZoneOnReceive: false, inheritsSockets: false, startTls: false, reusePort: { tcp: false, udp: false }, resolvesAtConnect: true },
    bindUdp: () => unsupported('UDP'),
    bindMulticast: () => unsupported('UDP multicast'),
    listenTcp: () => unsupported('a TCP listener'),
    async connectTcp(o: TcpConnectOptions): Promise<StreamConn> {
      if (o.signal?.aborted) throw o.signal.reason ?? new Error('aborted')
      const sock = await host.connect(o.address, o.port, o.signal, { allowHalfOpen: o.allowHalfOpen })
      const remote = sock.remote ?? { address: o.address, port: o.port, family: familyOf(o.address) }
      return streamsConn(sock, remote, sock.local ?? { address: '0.0.0.0', port: 0, family: remote.family }, { allowHalfOpen: o.allowHalfOpen })
    },
    // The platform resolves names when it connects: hand the name through.
    lookup: async (name: string, family?: Family): Promise<ResolvedAddress[]> => [{ address: name, family: family ?? 4 }],
    serveHttp: () => unsupported('an HTTP listener (the platform hands the requests to the edge entry)'),
    connectWebSocket: () => unsupported('ws/client'),
  }
}
