/**
 * Sockets and addresses as the layers above see them: UDP sockets, stream connections, listeners,
 * TLS options, interface addresses. Implemented by each runtime's adapter (src/adapter/<runtime>/).
 */
import type { Family, SocketAddress } from '../base/address.ts'
import type { ConnectionGate, GateTicket } from '../base/limits.ts'

export type { Family, SocketAddress } from '../base/address.ts'
export type { ConnectionGate, GateTicket } from '../base/limits.ts'

export interface UdpBindOptions {
  /** Literal address to bind (`0.0.0.0`, `::`, `127.0.0.1`, `fe80::1%eth0`). */
  address: string
  port: number
  family: Family
  /** SO_BROADCAST. */
  broadcast?: boolean
  reuseAddr?: boolean
  /** IPV6_V6ONLY for `::` (ignored where the runtime cannot set it; see `capabilities`). */
  ipv6Only?: boolean
  /** An inherited listening socket (systemd socket activation) to use instead of binding; needs capabilities.inheritsSockets. */
  fd?: number
  /** SO_REUSEPORT: several processes share the port (--workers); needs capabilities.reusePort. */
  reusePort?: boolean
  /**
   * Called for every datagram. `data` may be a view into a buffer the adapter reuses after the
   * callback returns: copy it if you keep it.
   */
  onMessage(data: Uint8Array, address: string, port: number): void
  /** Asynchronous socket errors after bind (send failures, ICMP errors). */
  onError?(err: Error): void
}

export interface UdpSocket {
  readonly local: SocketAddress
  /**
   * Fire-and-forget send; failures go to onError. Never truncates. `data` may be a view the caller
   * reuses as soon as send() returns (a decoded tunnel frame): an adapter that sends later copies it.
   */
  send(data: Uint8Array, port: number, address: string): void
  close(): void
}

/** A UDP socket connected to one remote (connect(2)): the kernel delivers only its datagrams. */
export interface UdpConnectOptions {
  /** Remote address literal and port. */
  address: string
  port: number
  family: Family
  /** Local address to bind first (default: the family's wildcard, port 0). */
  localAddress?: string
  /** Datagrams from the connected remote only; `data` may be reused after the call. */
  onMessage(data: Uint8Array): void
  /** Asynchronous errors: on a connected socket an ICMP port unreachable arrives as ECONNREFUSED. */
  onError?(err: Error): void
  /** A datagram from another address or port, dropped (a runtime whose connect() does not filter in the kernel). */
  onStray?(address: string, port: number): void
}

export interface ConnectedUdpSocket {
  readonly local: SocketAddress
  readonly remote: SocketAddress
  /** Fire-and-forget send to the connected remote; `data` may be reused once send() returns. */
  send(data: Uint8Array): void
  close(): void
}

/** The interface a multicast socket joins and sends on (MC1, MC4): always named, never the OS's pick. */
export interface MulticastInterface {
  name: string
  /** Interface index (IPv6 joins on Deno take the index). */
  index: number
  /** An IPv4 address of the interface: IPv4 joins and the IPv4 multicast-if are given by address. */
  ipv4?: string
}

export interface MulticastBindOptions extends UdpBindOptions {
  iface: MulticastInterface
  /** Receivers: groups to join on `iface` (bind the group family's wildcard with reuseAddr, MC2); `source` = source-specific join (MC6). */
  join?: { group: string; source?: string }[]
  /** Senders: multicast-if = `iface`, TTL / hop limit and loopback, always set explicitly (MC4). */
  send?: { ttl: number; loopback: boolean }
}

export interface MulticastSocket extends UdpSocket {
  /** Drops every membership; idempotent (MC3). close() drops them too. */
  leave(): void
  /** How the runtime carries this socket, for logs (`Deno.listenDatagram`, `node:dgram`). */
  readonly via: string
}

export interface StreamConn {
  readonly remote: SocketAddress
  readonly local: SocketAddress
  /** Queues bytes. Returns false when the kernel/user-space buffer is above its high-water mark. */
  write(data: Uint8Array): boolean
  /** Bytes queued in user space and not yet handed to the kernel. */
  readonly bufferedAmount: number
  /** Sets the handlers; data chunks may be views into buffers the adapter reuses. */
  setHandlers(h: StreamHandlers): void
  /**
   * Half-close after flushing queued writes. With `reason`, a transport that can carry one tells
   * the peer why (gRPC: an error status in the trailers; WebSocket: close code 1008 and the text).
   */
  end(reason?: Error): void
  /** Immediate close; queued writes are dropped. */
  destroy(err?: Error): void
  /** Immediate close that the peer sees as a reset (TCP RST) where the runtime can send one; else destroy(). */
  reset?(): void
  /** Stops reading (the kernel's receive window then holds the peer back); resume() reads again. */
  pause?(): void
  resume?(): void
}

export interface StreamHandlers {
  onData(chunk: Uint8Array): void
  /**
   * The peer half-closed (TCP FIN). Only connections made with `allowHalfOpen` stay writable after
   * it; the others close.
   */
  onEnd?(): void
  /** Called once, when the connection is gone for any reason. */
  onClose(err?: Error): void
  onDrain?(): void
}

/** Where a listener binds (every kind of listener: TCP, TLS, HTTP, HTTP/2). */
export interface ListenTarget {
  address: string
  port: number
  family: Family
  ipv6Only?: boolean
  /** An inherited listening socket (systemd socket activation) to use instead of binding; needs capabilities.inheritsSockets. */
  fd?: number
  /** SO_REUSEPORT: several processes share the port (--workers); needs capabilities.reusePort. */
  reusePort?: boolean
}

export interface TcpListenOptions extends ListenTarget {
  /** Keep accepted connections writable after the peer's FIN (forwarded TCP streams); default false. */
  allowHalfOpen?: boolean
  /**
   * A connection, with its ticket from `gate` when one was given (the owner marks it authenticated;
   * the adapter lets it leave when the connection closes).
   */
  onConnection(conn: StreamConn, ticket?: GateTicket): void
  /** Admits each accepted connection before anything else is done for it (the half's global limits). */
  gate?: ConnectionGate
  /** Bytes written to a connection the gate refused, before it is closed (plain TCP only). */
  refusal?(reason: string): Uint8Array
}

export interface StreamListener {
  readonly local: SocketAddress
  close(): Promise<void>
}

export interface TcpConnectOptions {
  /** A literal address: name resolution and racing happen in the core. */
  address: string
  port: number
  signal?: AbortSignal
  /** Local bind, optional. */
  localAddress?: string
  /** Local port (`sourceport=`), optional; a failure to bind it fails the attempt with syscall 'bind'. */
  localPort?: number
  /** Keep the connection writable after the peer's FIN (forwarded TCP streams); default false. */
  allowHalfOpen?: boolean
}

/**
 * TLS material and checks for a listening socket (PEM strings: the CLI reads the files). Every TLS
 * server of an adapter takes its strict profile: TLS 1.3, or TLS 1.2 with ECDHE and AEAD suites
 * only, and no renegotiation.
 */
export interface TlsServerOptions {
  cert: string
  key: string
  /** CA that signs client certificates; required with requestCert. */
  ca?: string
  /** Mutual TLS: ask for a client certificate and refuse the handshake without a valid one. */
  requestCert?: boolean
  /** Clients that have not finished the handshake by then are dropped. */
  handshakeTimeoutMs: number
  /** A client whose handshake failed (bad or missing certificate, timeout, not TLS): for logs. */
  onClientError?(err: Error, remote: SocketAddress): void
}

export interface TlsListenOptions extends TcpListenOptions {
  tls: TlsServerOptions
}

/** TLS settings of a dialling socket. The server certificate is always verified. */
export interface TlsClientOptions {
  /** Trusted CA (PEM); default: the runtime's trust store. */
  ca?: string
  /** Client certificate and key for mutual TLS (PEM). */
  cert?: string
  key?: string
  /**
   * The name the server certificate must carry, also sent as SNI when it is not an IP literal.
   * Default: the address dialled.
   */
  servername?: string
  /** How long the TLS handshake may take once TCP is connected. */
  handshakeTimeoutMs: number
  /** ALPN protocols to offer (`['h2']` for gRPC over TLS); default: none. */
  alpn?: string[]
}

export interface TlsConnectOptions extends TcpConnectOptions {
  tls: TlsClientOptions
  /** How long the TCP connect may take (the handshake has its own limit); default: no limit. */
  connectTimeoutMs?: number
}

/**
 * TLS started on a connection that is already open (STARTTLS): the side that dialled is the TLS
 * client and checks the server's certificate; the side that accepted is the TLS server.
 */
export type StartTlsOptions = { side: 'client'; tls: TlsClientOptions } | { side: 'server'; tls: TlsServerOptions }

/** One address of a network interface, as enumerated now. */
export interface InterfaceAddress {
  /** Interface name (`eth0`). */
  name: string
  address: string
  family: Family
  /** Loopback. */
  internal: boolean
  prefixLength: number
  /** IPv6 scope id: the interface index for link-local addresses, 0 otherwise. */
  scopeId?: number
}

export interface ResolvedAddress {
  address: string
  family: Family
}
