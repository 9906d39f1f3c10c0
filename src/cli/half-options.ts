import { type CliOptions, scalarOf, valuesOf } from './args.ts'
import type { HalfSettings } from '../half/start-half.ts'
import { parseDuration } from '../base/duration.ts'
import { RelayError } from '../base/errors.ts'
import { LIMIT_OPTIONS, type LimitSettings } from '../base/limits.ts'
import { isLogFormat, isLogLevel } from '../base/logger.ts'
import type { TlsMaterial } from '../core/connector.ts'
import { env, fileExists, readText } from './host.ts'
import { firstLine, readSecretFile, tokenOption } from './secrets.ts'
import { proxyOption } from './proxy-option.ts'
import { hostsResolver, type Resolver } from '../net/resolver.ts'
import { type ConnectorSpec, formatConnector, parseConnector } from '../net/connector-string.ts'

/** What a config file adds to the flat options (see config.ts). */
export interface SectionExtras {
  controllers?: Record<string, string>
  interfaces?: { in?: string; out?: string }
  /** Where notices go (a TLS file picked by default, `client-auth = "required"` read as true). */
  note?: (line: string) => void
}

const DURATIONS = ['udp-timeout', 'flow-idle', 'max-retry-delay', 'hello-timeout', 'connect-timeout', 'heartbeat', 'idle-timeout'] as const

/** Turns merged command-line/config options (uhppoted-tunnel names) into HalfSettings. */
export function toHalfOptions(o: CliOptions, where: string, extras: SectionExtras = {}): HalfSettings {
  const note = extras.note ?? (() => {})
  const str = (k: string) => (typeof o[k] === 'string' ? (o[k] as string) : undefined)
  // --in and --out may each be given more than once (a TOML list too); --route picks among several --out.
  const inTexts = valuesOf(o.in)
  const outTexts = valuesOf(o.out)
  if (inTexts.length === 0 || outTexts.length === 0) throw new RelayError('E_CONFIG', `${where}: both --in and --out are required (e.g. --in udp/listen:127.0.0.1:60000 --out tcp/client:relay.example.com:12345)`)
  if (o.ipv4 === true && o.ipv6 === true) throw new RelayError('E_CONFIG', `${where}: --ipv4 and --ipv6 exclude each other`)
  const level = str('log-level') ?? (o.quiet === true ? 'warn' : 'info')
  if (!isLogLevel(level)) throw new RelayError('E_CONFIG', `${where}: --log-level must be debug, info, warn or error, not '${level}'`)
  const logLevel = o.debug === true ? 'debug' : level
  const logFormat = str('log-format') ?? 'text'
  if (!isLogFormat(logFormat)) throw new RelayError('E_CONFIG', `${where}: --log-format must be text or json, not '${logFormat}'`)
  const int = (k: string) => {
    const v = str(k)
    if (v === undefined) return undefined
    if (!/^-?\d+$/.test(v)) throw new RelayError('E_CONFIG', `${where}: --${k} must be a whole number, not '${v}'`)
    return Number(v)
  }
  const positive = (k: string) => {
    const v = str(k)
    if (v === undefined) return undefined
    if (!/^\d+(\.\d+)?$/.test(v) || Number(v) <= 0) throw new RelayError('E_CONFIG', `${where}: ${k} must be a number above 0, not '${v}'`)
    return Number(v)
  }
  // Durations are checked here, where the message can name the file and section.
  for (const k of DURATIONS) {
    const v = str(k)
    if (v === undefined) continue
    try {
      parseDuration(v, k)
    } catch (err) {
      throw new RelayError('E_CONFIG', `${where}: ${(err as Error).message}`, { cause: err })
    }
  }
  const inSpecs = withInterface(inTexts, extras.interfaces?.in, where, 'in')
  const outSpecs = withInterface(outTexts, extras.interfaces?.out, where, 'out')
  const routes = valuesOf(o.route)
  const rateLimit = positive('rate-limit')
  const rateLimitBurst = positive('rate-limit-burst')
  if (rateLimitBurst !== undefined && rateLimit === undefined) throw new RelayError('E_CONFIG', `${where}: rate-limit-burst needs rate-limit (requests per second)`)
  const settings: HalfSettings = {
    in: inSpecs.length === 1 ? inSpecs[0]! : inSpecs,
    out: outSpecs.length === 1 ? outSpecs[0]! : outSpecs,
    ...(routes.length ? { routes } : {}),
    codec: str('codec'),
    udpTimeout: str('udp-timeout'),
    flowIdle: str('flow-idle'),
    token: tokenOption(o, where),
    family: o.ipv4 === true ? 4 : o.ipv6 === true ? 6 : undefined,
    maxRetries: int('max-retries'),
    maxRetryDelay: str('max-retry-delay'),
    helloTimeout: str('hello-timeout'),
    connectTimeout: str('connect-timeout'),
    heartbeat: str('heartbeat'),
    idleTimeout: str('idle-timeout'),
    limits: limitOptions(int),
    queueMaxPackets: int('queue-packets'),
    queueMaxBytes: int('queue-bytes'),
    maxStreams: int('max-streams'),
    allow: str('allow'),
    proxy: proxyOption(o, where),
    proxyUsers: proxyUsers(str('proxy-users'), where),
    tls: tlsMaterial(o, where, [...inSpecs, ...outSpecs].map(kindOf), note),
    html: str('html'),
    resolver: resolverOption(str('resolver'), where),
    xmppPassword: xmppPassword(str('xmpp-password-file'), where),
    logLevel,
    logFormat,
  }
  if (rateLimit !== undefined) settings.rateLimit = { perSecond: rateLimit, burst: rateLimitBurst ?? 120 }
  if (extras.controllers) settings.controllers = extras.controllers
  if (o.debug === true) settings.dumpPackets = true
  return settings
}

/** --max-connections and the other limits given (the rest keep their defaults from the descriptor limit). */
function limitOptions(int: (k: string) => number | undefined): Partial<LimitSettings> | undefined {
  const given = Object.entries(LIMIT_OPTIONS).flatMap(([key, cli]) => {
    const v = int(cli)
    return v === undefined ? [] : [[key, v] as const]
  })
  return given.length ? Object.fromEntries(given) : undefined
}

/** --resolver: `hosts:FILE` is read here (the library takes text); `system` and `host:port` pass on. */
function resolverOption(value: string | undefined, where: string): string | Resolver | undefined {
  if (!value?.startsWith('hosts:')) return value
  const path = value.slice('hosts:'.length)
  try {
    return hostsResolver(readText(path), path)
  } catch (cause) {
    throw new RelayError('E_CONFIG', `${where}: cannot read the --resolver hosts file '${path}': ${(cause as Error).message}`, { cause })
  }
}

function kindOf(spec: string | ConnectorSpec): string {
  const s = typeof spec === 'string' ? parseConnector(spec) : spec
  return s.role ? `${s.kind}/${s.role}` : s.kind
}

/** `interfaces = { in = "eth0" }` is uhppoted-tunnel's `::eth0:` prefix written apart (for one --in or --out). */
function withInterface(texts: string[], iface: string | undefined, where: string, position: 'in' | 'out'): (string | ConnectorSpec)[] {
  if (iface === undefined) return texts
  if (texts.length > 1) throw new RelayError('E_CONFIG', `${where}: interfaces.${position} = "${iface}" with ${texts.length} --${position}: write the ::${iface}: prefix on the ones it is for`)
  const text = texts[0]!
  const spec = parseConnector(text)
  if (!spec.endpoint) throw new RelayError('E_CONFIG', `${where}: interfaces.${position} = "${iface}" but ${text} has no address to bind`)
  if (spec.iface !== undefined && spec.iface !== iface) throw new RelayError('E_CONFIG', `${where}: interfaces.${position} = "${iface}" contradicts the interface '${spec.iface}' in ${text}`)
  spec.iface = iface
  spec.endpoint.iface = iface
  spec.text = formatConnector(spec)
  return [spec]
}

/** `client-auth`: a flag, or uhppoted-tunnel's TOML string (`"required"`), read as meant. */
function clientAuthOf(value: string | boolean | undefined, where: string, note: (line: string) => void): boolean {
  if (value === undefined || typeof value === 'boolean') return value === true
  const v = value.trim().toLowerCase()
  if (v === 'true' || v === '1') return true
  if (v === 'false' || v === '0' || v === 'no' || v === '') return false
  if (v === 'required' || v === 'require' || v === 'yes') {
    note(`${where}: client-auth = "${value}" read as true: client certificates are required (uhppoted-tunnel reads a string here as false and would accept any client)`)
    return true
  }
  throw new RelayError('E_CONFIG', `${where}: client-auth must be true or false (or "required"), not '${value}'`)
}

/**
 * --ca-cert, --cert and --key name PEM files (read here: the library takes PEM text). Like
 * uhppoted-tunnel, a TLS connector without them uses ./ca.cert and ./server.cert + ./server.key
 * (servers, https) or ./client.cert + ./client.key (clients) when those files exist, and says so.
 */
function tlsMaterial(o: CliOptions, where: string, kinds: string[], note: (line: string) => void): TlsMaterial {
  const server = kinds.some((k) => k === 'tls/server' || k === 'https')
  const client = kinds.includes('tls/client')
  const fallback: Record<string, string | undefined> = {
    'ca-cert': server || client ? 'ca.cert' : undefined,
    cert: server ? 'server.cert' : client ? 'client.cert' : undefined,
    key: server ? 'server.key' : client ? 'client.key' : undefined,
  }
  const used: string[] = []
  const file = (k: string): string | undefined => {
    let path = o[k]
    if (path === undefined || path === false) {
      const dflt = fallback[k]
      if (dflt === undefined || !fileExists(dflt)) return undefined
      path = dflt
      used.push(`--${k} ./${dflt}`)
    }
    if (typeof path !== 'string' || path === '') throw new RelayError('E_CONFIG', `${where}: --${k} needs a file name`)
    if (k === 'key') return readSecretFile(path, k, where)
    try {
      return readText(path)
    } catch (cause) {
      throw new RelayError('E_CONFIG', `${where}: cannot read the --${k} file '${path}': ${(cause as Error).message}`, { cause })
    }
  }
  const material = { caCert: file('ca-cert'), cert: file('cert'), key: file('key'), clientAuth: clientAuthOf(scalarOf(o['client-auth']), where, note) }
  if (used.length) note(`${where}: using ${used.join(', ')} (uhppoted-tunnel's default TLS files, found in the working directory)`)
  return material
}

/** --proxy-users: a file of user:password lines, read here (the library takes the text). */
function proxyUsers(file: string | undefined, where: string): string | undefined {
  return file === undefined ? undefined : readSecretFile(file, 'proxy-users', where)
}

/** --xmpp-password-file (its first line), else $EDGERELAY_XMPP_PASSWORD; never a command-line value (ps shows those). */
function xmppPassword(file: string | undefined, where: string): string | undefined {
  if (file === undefined) return env('EDGERELAY_XMPP_PASSWORD')
  return firstLine(readSecretFile(file, 'xmpp-password-file', where))
}
