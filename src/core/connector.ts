import type { Runtime, SocketAddress } from '../ports/runtime.ts'
import type { Flow } from './flow.ts'
import type { ConnectorSpec } from '../net/connector-string.ts'
import type { Endpoint } from '../net/endpoint.ts'
import { RelayError } from '../base/errors.ts'
import type { Deadlines } from '../base/deadlines.ts'
import type { Logger } from '../base/logger.ts'
import type { Stats, DropReporter } from '../base/stats.ts'
import type { StreamOpener } from './streams/byte-stream.ts'
import type { Allowlist } from '../net/allowlist.ts'
import type { ProxyPolicy } from '../net/dialers/proxy-choice.ts'
import type { ProxyUsers } from './proxy-users.ts'
import type { LimitSettings } from '../base/limits.ts'
import type { WarningLimiter } from '../base/warning-limiter.ts'
import type { HalfLimits } from './half-limits.ts'

export type PacketKind = 'request' | 'event'

/** What an in connector hands packets to: the out side of the same half. */
export interface PacketSink {
  /**
   * Sends one packet of `flow` on. `payload` is only valid during the call: keep a copy if it is
   * queued. Never throws for bad traffic: drops are counted and logged.
   */
  send(flow: Flow, kind: PacketKind, id: number, payload: Uint8Array): void
  /**
   * True when the sink honours `flow.dst` (tcp/dial sends the datagrams there, a tunnel carries it
   * to the other half). Datagrams of a flow with a `dst` are never given to any other sink: it
   * would send them to its own destination instead.
   */
  readonly takesDestinations?: boolean
}

/**
 * The out side as an in connector sees it: datagrams go to send(); TCP streams to openStream(),
 * present when the out connector carries streams (a tunnel, tcp/connect, tcp/dial).
 */
export type OutSide = PacketSink & Partial<StreamOpener>

export interface OutConnector extends PacketSink, Partial<StreamOpener> {
  /** Binds or starts dialling. Resolves when the connector can accept packets (clients: at once). */
  start(): Promise<void>
  close(): Promise<void>
  /** Local addresses a listening out connector is bound to (reverse tunnels). */
  addresses?(): SocketAddress[]
  rescan?(): Promise<void>
  /** False while it cannot carry packets on (a tunnel with no connection); absent means always ready. */
  ready?(): boolean
}

export interface InConnector {
  /** Binds or starts dialling and from then on sends packets (and opens streams) through `out`. */
  start(out: OutSide): Promise<void>
  close(): Promise<void>
  addresses?(): SocketAddress[]
  /** Looks at the local addresses again now (udp/listen:* binds new ones, drops vanished ones: docs/addresses.md U4). */
  rescan?(): Promise<void>
  /** False while it cannot take or deliver packets (a dialling tunnel not connected); absent means always ready. */
  ready?(): boolean
}

/** Everything a connector needs from the half it belongs to. */
export interface HalfContext {
  runtime: Runtime
  /** The half's one timer for every tunnel session's deadlines. */
  deadlines: Deadlines
  logger: Logger
  stats: Stats
  drops: DropReporter
  /** Warnings a peer can cause (refusals, failed handshakes): rate-limited per kind and peer. */
  warnings: WarningLimiter
  /** The half's global limits: the connection gate, the flow budget, the other counts. */
  limits: HalfLimits
  /** Aborted when the half stops. */
  signal: AbortSignal
  /** Stops the half with an error a connector cannot recover from (retries used up). */
  fatal(err: Error): void
  options: HalfOptionsResolved
}

export interface HalfOptionsResolved {
  /** As given (`auto` or a codec name); undefined: each tunnel picks its default (tcp/tls servers auto, the rest protobuf). */
  codec: string | undefined
  /** How long a request waits for replies (uhppoted-tunnel's --udp-timeout). */
  udpTimeoutMs: number
  /** Idle time after which a UDP flow and its socket are closed. */
  flowIdleMs: number
  /** Shared secret checked in the hello, or undefined. */
  token?: string
  /** How long a tunnel peer may take to complete the hello. */
  helloTimeoutMs: number
  /** How long one dial attempt may take. */
  connectTimeoutMs: number
  /** Reconnect policy: -1 = forever. */
  maxRetries: number
  maxRetryDelayMs: number
  /** Interval for pings on an idle tunnel; a peer silent for 3× this is declared dead. */
  heartbeatMs: number
  /** A tunnel connection without heartbeats (uhppoted framing) that receives nothing this long is closed; 0: never. */
  idleTimeoutMs: number
  /** The half's global limits (src/base/limits.ts), defaults from the descriptor limit. */
  limits: LimitSettings
  /** Bound on packets queued while no tunnel is up. */
  queueMaxPackets: number
  queueMaxBytes: number
  /** Bound on flows (each may own a UDP socket) per tunnel connection on the receiving side. */
  maxFlowsPerTunnel: number
  /** uhppoted framing: bound on requests awaiting replies (each owns a UDP socket) per connection. */
  maxReplyWindows: number
  /** Concurrent TCP streams per tunnel connection, both directions (--max-streams). */
  maxStreams: number
  /** Destinations the other side may have this half dial (--allow); undefined: none given. */
  allow?: Allowlist
  /** Credentials socks5/listen and http-proxy/listen ask for (--proxy-users); undefined: none. */
  proxyUsers?: ProxyUsers
  /** Restrict resolution to a family. */
  family?: 4 | 6
  /** Which proxy each tunnel client goes through (--proxy, the environment's variables, NO_PROXY). */
  proxy?: ProxyPolicy
  /** Certificates for tls/server and tls/client (PEM text), if any were given. */
  tls: TlsMaterial
  /** http/https in-connectors: folder of static files to serve (uhppoted-tunnel's --html). */
  html?: string
  /** xmpp/client: the account's password. */
  xmppPassword?: string
  /** ip/out: controller serial number (decimal text) → `udp::host:port` or `tcp::host:port`. */
  controllers?: Record<string, string>
}

/** uhppoted-tunnel's --ca-cert, --cert, --key and --client-auth, as PEM text (the CLI reads the files). */
export interface TlsMaterial {
  /** tls/client: the CA that signs the server certificate (default: the system's trust store). tls/server with clientAuth: the CA that signs client certificates. */
  caCert?: string
  /** tls/server: its certificate (required). tls/client: a client certificate for mutual TLS. */
  cert?: string
  key?: string
  /** tls/server: require a client certificate signed by caCert. */
  clientAuth?: boolean
}

/** Makes the connectors of one kind (`udp/listen`) from their parsed specs; the registry holds one per kind. */
export interface ConnectorFactory {
  /** `peer` is the other connector of the half (tunnels into udp/event carry events). */
  in?(spec: ConnectorSpec, ctx: HalfContext, peer: ConnectorSpec): InConnector
  /** `peer` is undefined when the in connector was made by the caller (the edge entries). */
  out?(spec: ConnectorSpec, ctx: HalfContext, peer: ConnectorSpec | undefined): OutConnector
}

/** The spec's endpoint, or a configuration error naming the connector. */
export function endpointOf(spec: ConnectorSpec): Endpoint {
  if (!spec.endpoint) throw new RelayError('E_CONFIG', `${spec.text}: needs an address`)
  return spec.endpoint
}

/** The codec of a tunnel that has no `auto` (ws, grpc, every client): as given, else protobuf. */
export function fixedCodec(ctx: HalfContext, text: string): string {
  const codec = ctx.options.codec ?? 'protobuf'
  if (codec === 'auto') throw new RelayError('E_CONFIG', `${text}: --codec auto is for tcp and tls servers (it tells an edgerelay hello from uhppoted-tunnel framing); name the codec here`)
  return codec
}
