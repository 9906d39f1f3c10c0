/**
 * The contract between the runtime-free layers and a runtime (docs/architecture.md): everything
 * that touches a runtime global (node:*, Bun.*, Deno.*) lives behind this interface, in
 * src/adapter/<runtime>/.
 */
import type { HttpRuntime } from './http.ts'
import type { ConnectedUdpSocket, StartTlsOptions, UdpConnectOptions, InterfaceAddress, MulticastBindOptions, MulticastSocket, ResolvedAddress, StreamConn, StreamListener, TcpConnectOptions, TcpListenOptions, TlsConnectOptions, TlsListenOptions, UdpBindOptions, UdpSocket, Family } from './sockets.ts'

export type * from './sockets.ts'

export interface RuntimeCapabilities {
  /** Whether ipv6Only is honoured on UDP sockets bound to `::`. */
  udpIpv6Only: boolean
  /** Whether received link-local addresses keep their `%zone`. */
  keepsZoneOnReceive: boolean
  /** Whether listeners and UDP sockets can take an inherited descriptor (`fd`: systemd socket activation). */
  inheritsSockets: boolean
  /** Whether TLS can start on an open connection (STARTTLS: `startTls`); the edge's WebSockets cannot. */
  startTls: boolean
  /** Whether TCP listeners and UDP sockets can share a port with other processes (`reusePort`, SO_REUSEPORT). */
  reusePort: { tcp: boolean; udp: boolean }
  /**
   * Names are resolved by the platform when it connects (the edge): lookup() hands a name back
   * unresolved, so what a name resolves to is known, if at all, only from the connection's remote.
   */
  resolvesAtConnect?: boolean
}

export interface Runtime extends HttpRuntime {
  readonly name: 'node' | 'bun' | 'deno' | 'edge'
  readonly capabilities: RuntimeCapabilities
  bindUdp(opts: UdpBindOptions): Promise<UdpSocket>
  /** A UDP socket connected to one remote (absent where there is no UDP: edge). */
  connectUdp?(opts: UdpConnectOptions): Promise<ConnectedUdpSocket>
  listenTcp(opts: TcpListenOptions): Promise<StreamListener>
  connectTcp(opts: TcpConnectOptions): Promise<StreamConn>
  /** TLS server: connections are handed over only after a completed handshake. */
  listenTls?(opts: TlsListenOptions): Promise<StreamListener>
  /** Resolves only after the TLS handshake (and the server certificate check) succeeded. */
  connectTls?(opts: TlsConnectOptions): Promise<StreamConn>
  /**
   * STARTTLS: runs TLS on `conn`, a connection from listenTcp or connectTcp whose plain bytes are
   * done. Resolves with the TLS connection once the handshake and the certificate checks passed;
   * from the call on, `conn` itself is no longer read. Present where `capabilities.startTls` is.
   */
  startTls?(conn: StreamConn, opts: StartTlsOptions): Promise<StreamConn>
  /** Addresses of the host's interfaces, read fresh each call (absent where there are none: edge). */
  networkInterfaces?(): InterfaceAddress[]
  /** The index of a named interface, or undefined when there is no such interface. */
  interfaceIndex?(name: string): number | undefined
  /** UDP multicast receive/send (absent where there is no UDP). */
  bindMulticast?(opts: MulticastBindOptions): Promise<MulticastSocket>
  /** getaddrinfo-style lookup honouring /etc/hosts; results in resolver order. */
  lookup(name: string, family?: Family): Promise<ResolvedAddress[]>
  /** The process's descriptor limit (`ulimit -n`), where the runtime can tell: the global limits' defaults derive from it. */
  descriptorLimit?(): number | undefined
}
