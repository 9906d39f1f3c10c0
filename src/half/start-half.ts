import type { Runtime, SocketAddress } from '../ports/runtime.ts'
import { codecByName } from '../protocol/codecs/index.ts'
import type { HalfContext, HalfOptionsResolved, InConnector, OutConnector, PacketSink, TlsMaterial } from '../core/connector.ts'
import { parseDuration } from '../base/duration.ts'
import { RelayError } from '../base/errors.ts'
import { createLogger, type LogFormat, type LogLevel, type Logger, type LogSink } from '../base/logger.ts'
import { DropReporter, Stats } from '../base/stats.ts'
import { Deadlines } from '../base/deadlines.ts'
import { parseConnector, type ConnectorSpec } from '../net/connector-string.ts'
import { createIn, createOut } from '../connectors/registry.ts'
import { preflight } from '../net/family.ts'
import { resolverFor, withResolver, type Resolver } from '../net/resolver.ts'
import { dumping, rateLimited } from './sink-wrappers.ts'
import { Allowlist } from '../net/allowlist.ts'

/** What a half is configured with, apart from the runtime it runs on (the CLI builds these). */
export interface HalfSettings {
  /**
   * Where requests come in: a connector string (`udp/listen:127.0.0.1:5300`), a parsed spec, or a
   * connector the caller made (the edge entries' accepted WebSocket).
   */
  in: string | ConnectorSpec | ProvidedIn
  /** Where they go out. */
  out: string | ConnectorSpec
  /**
   * `protobuf`, `avro`, `msgpack`, `uhppoted`, or for tcp/tls servers `auto` (their default: an
   * edgerelay hello of any codec, or uhppoted-tunnel framing without --token). Default elsewhere: protobuf.
   */
  codec?: string
  /** How long a request waits for replies (default 5s). Duration string or ms. */
  udpTimeout?: string | number
  /** Idle time that ends a UDP flow (default 60s, never less than udpTimeout). */
  flowIdle?: string | number
  token?: string
  /** Restrict name resolution and wildcards to one IP family. */
  family?: 4 | 6
  /**
   * Where names are resolved: `system` (default, getaddrinfo), a DNS server `host:port` (A and AAAA
   * asked in parallel, UDP with TCP fallback), or any function (hostsResolver(text) for a hosts file).
   */
  resolver?: string | Resolver
  maxRetries?: number
  maxRetryDelay?: string | number
  helloTimeout?: string | number
  connectTimeout?: string | number
  heartbeat?: string | number
  queueMaxPackets?: number
  queueMaxBytes?: number
  /** Flows per tunnel connection on the receiving side (default 16,384). */
  maxFlowsPerTunnel?: number
  /** With --codec uhppoted: requests awaiting replies per connection (default 1,024). */
  maxReplyWindows?: number
  /** Concurrent TCP streams per tunnel connection, both directions (default 1,024); past it opens are refused. */
  maxStreams?: number
  /**
   * Destinations the other side may have this half dial (tcp/dial): `10.0.0.0/8:22,db.internal:5432,*.corp.example:443`
   * (src/net/allowlist.ts). Required by connectors that dial what the other side names; `*` opens everything.
   */
  allow?: string
  /** PEM text for tls/server and tls/client (uhppoted-tunnel's --ca-cert, --cert, --key, --client-auth). */
  tls?: TlsMaterial
  /** http/https in-connectors: folder of static files (uhppoted-tunnel's --html). */
  html?: string
  /** xmpp/client: the XMPP account's password (CLI: --xmpp-password-file or EDGERELAY_XMPP_PASSWORD). */
  xmppPassword?: string
  /** ip/out: controller serial number → `udp::host:port` or `tcp::host:port` (uhppoted-tunnel's [section.controllers]). */
  controllers?: Record<string | number, string>
  /** A token bucket between in and out (uhppoted-tunnel's rate-limit, rate-limit-burst); default: no limit. */
  rateLimit?: { perSecond: number; burst: number }
  /** Logs a hex dump of every packet, with its flow and direction, at debug level (uhppoted-tunnel's --debug). */
  dumpPackets?: boolean
  logLevel?: LogLevel
  /** `text` (default) or `json` (one object per line: time, level, connector, code, peer, message); for a sink, not a Logger. */
  logFormat?: LogFormat
  /** A logger or a line sink; default: lines on stderr. */
  logger?: Logger | LogSink
  /** Stops the half when aborted. */
  signal?: AbortSignal
}

export interface HalfOptions extends HalfSettings {
  /**
   * The runtime adapter (src/adapter/<runtime>/). Required here; the package entry (mod.ts) fills
   * in the one its import conditions picked (`#runtime`).
   */
  runtime: Runtime
}

export interface Half extends AsyncDisposable {
  /** The half's totals; `stats.scope('in')` and `stats.scope('out')` hold what each connector counted. */
  readonly stats: Stats
  /** `<in> -> <out>`, the connector strings as given: the half's name in metrics. */
  readonly name: string
  /** Each side's connector kind and role (`udp/listen`, `tcp/client`). */
  readonly connectors: { readonly in: string; readonly out: string }
  /** Whether the half can carry requests now (false while a tunnel it needs has no connection). */
  ready(): boolean
  /** Addresses the in connector listens on (empty for dialling connectors). */
  inAddresses(): SocketAddress[]
  outAddresses(): SocketAddress[]
  /** Picks up new and vanished local addresses now (SIGHUP in the CLI; also every 30 s on its own). */
  rescan(): Promise<void>
  /** Settles when the half has stopped: resolves on close/abort, rejects on a fatal error. */
  readonly done: Promise<void>
  close(): Promise<void>
}

export function resolveOptions(o: HalfOptions): HalfOptionsResolved {
  const codec = o.codec
  if (codec !== undefined && codec !== 'auto' && codec !== 'uhppoted') codecByName(codec)
  const udpTimeoutMs = parseDuration(o.udpTimeout ?? '5s', 'udp-timeout')
  const flowIdleMs = Math.max(udpTimeoutMs, parseDuration(o.flowIdle ?? '60s', 'flow-idle'))
  const maxRetries = o.maxRetries ?? -1
  if (!Number.isInteger(maxRetries) || maxRetries < -1) throw new RelayError('E_CONFIG', `max-retries must be -1 (forever) or a count, not ${maxRetries}`)
  return {
    codec,
    udpTimeoutMs,
    flowIdleMs,
    token: o.token,
    helloTimeoutMs: parseDuration(o.helloTimeout ?? '10s', 'hello-timeout'),
    connectTimeoutMs: parseDuration(o.connectTimeout ?? '10s', 'connect-timeout'),
    maxRetries,
    maxRetryDelayMs: parseDuration(o.maxRetryDelay ?? '5m', 'max-retry-delay'),
    heartbeatMs: parseDuration(o.heartbeat ?? '8s', 'heartbeat'),
    queueMaxPackets: o.queueMaxPackets ?? 1024,
    queueMaxBytes: o.queueMaxBytes ?? 4 << 20,
    maxFlowsPerTunnel: o.maxFlowsPerTunnel ?? 16_384,
    maxReplyWindows: o.maxReplyWindows ?? 1024,
    maxStreams: positive(o.maxStreams ?? 1024, 'max-streams'),
    allow: o.allow === undefined ? undefined : Allowlist.parse(o.allow),
    family: o.family,
    tls: o.tls ?? {},
    html: o.html,
    xmppPassword: o.xmppPassword,
    controllers: o.controllers === undefined ? undefined : Object.fromEntries(Object.entries(o.controllers).map(([k, v]) => [String(k), v])),
  }
}

function positive(n: number, name: string): number {
  if (!Number.isInteger(n) || n < 1) throw new RelayError('E_CONFIG', `${name} must be a whole number of at least 1, not ${n}`)
  return n
}

/** An in connector made by the caller instead of from a connector string. */
export interface ProvidedIn {
  /** For logs: what it is (`ws/server (edge)`). */
  readonly text: string
  create(ctx: HalfContext): InConnector
}

function isProvided(value: string | ConnectorSpec | ProvidedIn): value is ProvidedIn {
  return typeof value === 'object' && 'create' in value
}

function toSpec(value: string | ConnectorSpec): ConnectorSpec {
  return typeof value === 'string' ? parseConnector(value) : value
}

/**
 * Creates and starts one half (docs/architecture.md#words): the out connector first, so packets have somewhere
 * to go, then the in connector. Throws a RelayError (E_CONFIG, E_LISTEN, ...) if either cannot
 * start; nothing stays bound after a failed start.
 */
export async function startHalf(o: HalfOptions): Promise<Half> {
  const inSpec = isProvided(o.in) ? undefined : toSpec(o.in)
  const outSpec = toSpec(o.out)
  const options = resolveOptions(o)
  const runtime = withResolver(o.runtime, resolverFor(o.runtime, o.resolver))
  const logger = typeof o.logger === 'function' ? createLogger(o.logLevel ?? 'info', o.logger, '', o.logFormat) : (o.logger ?? createLogger(o.logLevel ?? 'info', undefined, '', o.logFormat))
  const stats = new Stats()
  const controller = new AbortController()
  let fatalError: Error | undefined
  let settle!: () => void
  const done = new Promise<void>((resolve, reject) => {
    settle = () => (fatalError ? reject(fatalError) : resolve())
  })
  done.catch(() => {})
  let closing: Promise<void> | undefined
  let inConn: InConnector | undefined
  let outConn: OutConnector | undefined

  const close = (): Promise<void> => {
    closing ??= (async () => {
      controller.abort()
      await inConn?.close().catch((e) => logger.warn(`closing --in: ${(e as Error).message}`))
      await outConn?.close().catch((e) => logger.warn(`closing --out: ${(e as Error).message}`))
      settle()
    })()
    return closing
  }

  const ctx: HalfContext = {
    runtime,
    deadlines: new Deadlines(),
    logger,
    stats,
    drops: new DropReporter(stats, (m, f) => logger.warn(m, f)),
    signal: controller.signal,
    options,
    fatal(err) {
      fatalError ??= err
      logger.error(err.message, { code: (err as { code?: string }).code })
      void close()
    },
  }

  /** One connector's context: its own stats scope, which counts into the half's totals too. */
  const scoped = (side: 'in' | 'out'): HalfContext => {
    const s = stats.scope(side)
    return { ...ctx, stats: s, drops: new DropReporter(s, (m, f) => logger.warn(m, f)) }
  }

  if (o.signal?.aborted) throw new RelayError('E_CANCELLED', 'aborted before start')
  // Contradictions (--ipv4 with an IPv6 literal, a local bind of the other family) fail here, at
  // start, with their own exit code, rather than in a dialling retry loop (docs/addresses.md F3, M2).
  if (inSpec) preflight(runtime, inSpec, options.family, 'in')
  preflight(runtime, outSpec, options.family, 'out')
  try {
    outConn = await createOut(outSpec, scoped('out'), inSpec)
    inConn = isProvided(o.in) ? o.in.create(scoped('in')) : await createIn(inSpec!, scoped('in'), outSpec)
    await outConn.start()
    let sink: PacketSink = outConn
    if (o.rateLimit) {
      const { perSecond, burst } = o.rateLimit
      if (!(perSecond > 0) || !(burst >= 1)) throw new RelayError('E_CONFIG', `rate-limit must be above 0 and its burst at least 1 (got ${perSecond}/s, burst ${burst})`)
      sink = rateLimited(sink, ctx, perSecond, burst)
      logger.info(`rate limit: ${perSecond} packets/s, burst ${burst}`)
    }
    if (o.dumpPackets) sink = dumping(sink, logger.child('packets'))
    await inConn.start(sink)
  } catch (err) {
    await close()
    throw err
  }
  o.signal?.addEventListener('abort', () => void close(), { once: true })

  const kindOf = (spec: ConnectorSpec | undefined, fallback: string) => (spec ? (spec.role ? `${spec.kind}/${spec.role}` : spec.kind) : fallback)
  const inText = inSpec?.text ?? (o.in as ProvidedIn).text
  return {
    stats,
    name: `${inText} -> ${outSpec.text}`,
    connectors: { in: kindOf(inSpec, inText), out: kindOf(outSpec, outSpec.text) },
    ready: () => !closing && (inConn?.ready?.() ?? true) && (outConn?.ready?.() ?? true),
    inAddresses: () => inConn?.addresses?.() ?? [],
    outAddresses: () => outConn?.addresses?.() ?? [],
    rescan: async () => {
      await inConn?.rescan?.()
      await outConn?.rescan?.()
    },
    done,
    close,
    [Symbol.asyncDispose]: close,
  }
}
