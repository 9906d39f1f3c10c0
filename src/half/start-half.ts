import type { Runtime, SocketAddress } from '../ports/runtime.ts'
import { codecByName } from '../protocol/codecs/index.ts'
import type { HalfContext, HalfOptionsResolved, InConnector, OutConnector, OutSide, TlsMaterial } from '../core/connector.ts'
import * as check from './checks.ts'
import { RelayError } from '../base/errors.ts'
import { createLogger, type LogFormat, type LogLevel, type Logger, type LogSink } from '../base/logger.ts'
import { DropReporter, Stats } from '../base/stats.ts'
import { Deadlines } from '../base/deadlines.ts'
import { DEFAULT_DESCRIPTOR_LIMIT, type LimitSettings } from '../base/limits.ts'
import { WarningLimiter } from '../base/warning-limiter.ts'
import { HalfLimits } from '../core/half-limits.ts'
import { parseConnector, type ConnectorSpec } from '../net/connector-string.ts'
import { createIn, createOut } from '../connectors/registry.ts'
import { preflight } from '../net/family.ts'
import { resolverFor, withResolver, type Resolver } from '../net/resolver.ts'
import { dumping, rateLimited } from './sink-wrappers.ts'
import { parseRoutes, routedSink } from './routes.ts'
import { checkDuplicateListens } from './duplicate-listen.ts'
import { TokenBucket } from '../core/rate-limit.ts'
import { Allowlist } from '../net/allowlist.ts'
import { ProxyPolicy, type ProxySettings } from '../net/dialers/proxy-choice.ts'
import { ProxyUsers } from '../core/proxy-users.ts'

/** What a half is configured with, apart from the runtime it runs on (the CLI builds these). */
export interface HalfSettings {
  /**
   * Where requests come in: a connector string (`udp/listen:127.0.0.1:5300`), a parsed spec, a
   * list of them (one half listening on several, all feeding the same --out), or a connector the
   * caller made (the edge entries' accepted WebSocket).
   */
  in: Connectors | ProvidedIn
  /** Where they go out: one connector, or several picked by `routes`. */
  out: Connectors
  /**
   * With several `out`: which packets go where (`in=1,out=2`, `serial=405419896,out=2`,
   * `out=1`; src/half/routes.ts). Ambiguous or incomplete sets are refused at start.
   */
  routes?: readonly string[]
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
  /** A tunnel connection without heartbeats (uhppoted framing) that receives nothing this long is closed (default 5m; 0: never). */
  idleTimeout?: string | number
  /**
   * The half's global limits (README "Limits"): connections in total, per source address and not
   * yet authenticated, flows, UDP sockets, gRPC calls, HTTP requests, buffered bytes. Defaults
   * derive from the descriptor limit (`ulimit -n`).
   */
  limits?: Partial<LimitSettings>
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
  /**
   * How tunnel clients reach their servers through a proxy (src/net/dialers/): a proxy URL for
   * all of them (`http://[user:password@]host:port`, `socks5://`, `socks5h://`; `''` for none), or
   * settings that also honour an environment's HTTPS_PROXY / ALL_PROXY / NO_PROXY as curl does.
   * Default: no proxy (the CLI passes its environment).
   */
  proxy?: string | ProxySettings
  /**
   * The users socks5/listen and http-proxy/listen accept, as `user:password` lines (the text of
   * the --proxy-users file). Without it a proxy listener on a non-loopback address refuses to
   * start unless given `,noauth`.
   */
  proxyUsers?: string
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

/** One connector, or several (`--in` given more than once). */
export type Connectors = string | ConnectorSpec | readonly (string | ConnectorSpec)[]

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
  const HOUR = 3_600_000
  const udpTimeoutMs = check.duration(o.udpTimeout, '5s', 'udp-timeout', 'udpTimeout', 1, HOUR)
  const flowIdleMs = Math.max(udpTimeoutMs, check.duration(o.flowIdle, '60s', 'flow-idle', 'flowIdle', 1, 24 * HOUR))
  const maxRetries = o.maxRetries ?? -1
  if (!Number.isInteger(maxRetries) || maxRetries < -1) throw new RelayError('E_CONFIG', `--max-retries (maxRetries) must be -1 (forever) or a count, not ${maxRetries}`)
  return {
    codec,
    udpTimeoutMs,
    flowIdleMs,
    token: check.token(o.token),
    helloTimeoutMs: check.duration(o.helloTimeout, '10s', 'hello-timeout', 'helloTimeout', 100, 10 * 60_000),
    connectTimeoutMs: check.duration(o.connectTimeout, '10s', 'connect-timeout', 'connectTimeout', 100, 10 * 60_000),
    maxRetries,
    maxRetryDelayMs: check.duration(o.maxRetryDelay, '5m', 'max-retry-delay', 'maxRetryDelay', 1, 24 * HOUR),
    heartbeatMs: check.duration(o.heartbeat, '8s', 'heartbeat', 'heartbeat', 100, HOUR, 'no heartbeats'),
    idleTimeoutMs: check.duration(o.idleTimeout, '5m', 'idle-timeout', 'idleTimeout', 1000, 7 * 24 * HOUR, 'never'),
    queueMaxPackets: check.count(o.queueMaxPackets, 1024, 'queue-packets', 'queueMaxPackets', 0, 1 << 20, 'packets held while no tunnel is up'),
    queueMaxBytes: check.count(o.queueMaxBytes, 4 << 20, 'queue-bytes', 'queueMaxBytes', 0, 1 << 30, 'bytes held while no tunnel is up'),
    maxFlowsPerTunnel: check.count(o.maxFlowsPerTunnel, 16_384, 'max-flows-per-tunnel', 'maxFlowsPerTunnel', 1, 1 << 24, 'flows per tunnel connection'),
    maxReplyWindows: check.count(o.maxReplyWindows, 1024, 'max-reply-windows', 'maxReplyWindows', 1, 1 << 20, 'requests awaiting replies per connection'),
    limits: check.limits(o.limits, o.runtime.descriptorLimit?.()),
    maxStreams: positive(o.maxStreams ?? 1024, 'max-streams'),
    allow: o.allow === undefined ? undefined : Allowlist.parse(o.allow),
    proxy: o.proxy === undefined ? undefined : new ProxyPolicy(typeof o.proxy === 'string' ? { url: o.proxy } : o.proxy),
    proxyUsers: o.proxyUsers === undefined ? undefined : ProxyUsers.parse(o.proxyUsers, 'proxy users'),
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

function isProvided(value: Connectors | ProvidedIn): value is ProvidedIn {
  return typeof value === 'object' && !Array.isArray(value) && 'create' in value
}

function toSpec(value: string | ConnectorSpec): ConnectorSpec {
  return typeof value === 'string' ? parseConnector(value) : value
}

function toSpecs(value: Connectors, side: 'in' | 'out'): ConnectorSpec[] {
  const list = Array.isArray(value) ? (value as readonly (string | ConnectorSpec)[]).map(toSpec) : [toSpec(value as string | ConnectorSpec)]
  if (list.length === 0) throw new RelayError('E_CONFIG', `--${side} is required`)
  return list
}

const kindOf = (spec: ConnectorSpec) => (spec.role ? `${spec.kind}/${spec.role}` : spec.kind)

/** The connector an --in tunnel sees on the other side: a udp/event out only when every --out is one. */
function peerOf(outs: ConnectorSpec[]): ConnectorSpec {
  return outs.find((o) => kindOf(o) !== 'udp/event') ?? outs[0]!
}

/**
 * Creates and starts one half (docs/architecture.md#words): the out connector first, so packets have somewhere
 * to go, then the in connector. Throws a RelayError (E_CONFIG, E_LISTEN, ...) if either cannot
 * start; nothing stays bound after a failed start.
 */
export async function startHalf(o: HalfOptions): Promise<Half> {
  const provided = isProvided(o.in) ? o.in : undefined
  const inSpecs = provided ? [] : toSpecs(o.in as Connectors, 'in')
  const outSpecs = toSpecs(o.out, 'out')
  const routes = parseRoutes(o.routes ?? [], inSpecs, outSpecs)
  // Two --in (or --out) of this half on the same protocol, address and port (docs/addresses.md S6).
  checkDuplicateListens([{ where: 'this half', options: o }])
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
  const inConns: InConnector[] = []
  const outConns: OutConnector[] = []

  const close = (): Promise<void> => {
    closing ??= (async () => {
      controller.abort()
      for (const c of inConns) await c.close().catch((e) => logger.warn(`closing --in: ${(e as Error).message}`))
      for (const c of outConns) await c.close().catch((e) => logger.warn(`closing --out: ${(e as Error).message}`))
      warnings.flush()
      settle()
    })()
    return closing
  }

  if (o.runtime.descriptorLimit && o.runtime.descriptorLimit() === undefined && o.limits === undefined) {
    logger.info(`the descriptor limit (ulimit -n) could not be read (on Deno, /proc/self/limits needs -A): the limits assume ${DEFAULT_DESCRIPTOR_LIMIT} (README, Limits)`)
  }
  const warnings = new WarningLimiter((m, f, level) => logger[level](m, f))
  const ctx: HalfContext = {
    runtime,
    deadlines: new Deadlines(),
    logger,
    stats,
    drops: new DropReporter(stats, (m, f) => logger.warn(m, f)),
    warnings,
    limits: new HalfLimits(options.limits, stats, warnings),
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
  for (const spec of inSpecs) preflight(runtime, spec, options.family, 'in')
  for (const spec of outSpecs) preflight(runtime, spec, options.family, 'out')
  try {
    for (const spec of outSpecs) outConns.push(await createOut(spec, scoped('out'), inSpecs[0]))
    if (provided) inConns.push(provided.create(scoped('in')))
    else for (const spec of inSpecs) inConns.push(await createIn(spec, scoped('in'), peerOf(outSpecs)))
    for (const c of outConns) await c.start()
    let bucket: TokenBucket | undefined
    let limit = ''
    if (o.rateLimit) {
      const { perSecond, burst } = o.rateLimit
      if (!(perSecond > 0) || !(burst >= 1)) throw new RelayError('E_CONFIG', `rate-limit must be above 0 and its burst at least 1 (got ${perSecond}/s, burst ${burst})`)
      // One bucket for the half, whichever --in a packet came from.
      bucket = new TokenBucket(perSecond, burst)
      limit = `${perSecond}/s (burst ${burst})`
      logger.info(`rate limit: ${perSecond} packets/s, burst ${burst}`)
    }
    for (let i = 0; i < inConns.length; i++) {
      let sink: OutSide = routes.length ? routedSink(routes, i, outConns) : outConns[0]!
      if (bucket) sink = rateLimited(sink, ctx, bucket, limit)
      if (o.dumpPackets) sink = dumping(sink, logger.child('packets'))
      await inConns[i]!.start(sink)
    }
  } catch (err) {
    await close()
    throw err
  }
  o.signal?.addEventListener('abort', () => void close(), { once: true })

  const joined = (list: string[]) => list.join(' + ')
  const inText = provided ? provided.text : joined(inSpecs.map((s) => s.text))
  const all = [...inConns, ...outConns]
  return {
    stats,
    name: `${inText} -> ${joined(outSpecs.map((s) => s.text))}`,
    connectors: { in: provided ? provided.text : joined(inSpecs.map(kindOf)), out: joined(outSpecs.map(kindOf)) },
    ready: () => !closing && all.every((c) => c.ready?.() ?? true),
    inAddresses: () => inConns.flatMap((c) => c.addresses?.() ?? []),
    outAddresses: () => outConns.flatMap((c) => c.addresses?.() ?? []),
    rescan: async () => {
      for (const c of all) await c.rescan?.()
    },
    done,
    close,
    [Symbol.asyncDispose]: close,
  }
}
