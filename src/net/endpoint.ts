/**
 * Endpoint strings: `host:port[,option…]` with IPv4, bracketed IPv6 (+ zone), names and
 * wildcards (docs/addresses.md P2–P10). Pure: nothing here resolves or touches a socket.
 */
import { normalizeHostname } from './hostname.ts'
import { checkInterfaceName } from './interface-name.ts'
import { endsInNumber, formatIPv6, multicastScope, needsZone, parseIPv4, parseIPv6, v4Mapped } from '../base/ip.ts'
import { formatOptions, type ParsedOptions, parseOptions } from './options.ts'
import { type Fail, failer, indexIn, unexpected } from '../base/scan.ts'

/** What the host of an endpoint is; `wildcard` is `*` or an empty host (every enabled family). */
export type HostKind = 'ipv4' | 'ipv6' | 'name' | 'wildcard'

/** A warning raised while parsing (P4 W_ZONE_IGNORED, P8 W_V4MAPPED_NORMALIZED). */
export interface EndpointWarning {
  code: string
  message: string
}

/** A parsed endpoint. Optional fields are absent (not undefined) when not set. */
export interface Endpoint {
  /** Dotted quad, RFC 5952 IPv6 without brackets or zone, lowercase ASCII name, or `*`. */
  host: string
  hostKind: HostKind
  /** IPv6 zone (interface name or index), only on link-local and scope ≤2 multicast addresses. */
  zone?: string
  port: number
  /** Family forced by the context (a connector kind such as `udp6`), never guessed from the host. */
  family?: 4 | 6
  /** Interface to bind to (`iface=` option or the connector's `::eth0:` prefix). */
  iface?: string
  /** Options after commas other than `iface`, keys lowercase, bare keys as ''. */
  options: Record<string, string>
  /** Present only when parsing had something to say. */
  warnings?: EndpointWarning[]
}

/** The rules a host:port is checked against. */
export interface HostPortRules {
  /** `connect` refuses wildcards, unspecified addresses and port 0 (P6, P7). */
  role: 'listen' | 'connect'
  /** Used when the port is left out; without it a missing port is an error. */
  defaultPort?: number
  /** A family forced by the context; a literal of the other family is E_FAMILY_CONFLICT (F3). */
  family?: 4 | 6
}

/** Where `input` sits, so that errors point into the string the user typed. */
export interface SourcePosition {
  /** Index of `input` within a larger string (`source`, when given). */
  offset?: number
  /** The larger string `input` was cut from; errors then report it and index into it. */
  source?: string
}

type Host = Pick<Endpoint, 'host' | 'hostKind' | 'zone'>

const NEEDS_BRACKETS = 'E_IPV6_NEEDS_BRACKETS'

/**
 * Parses `host:port[,option…]`. Throws a ParseError (E_INVALID_IPV4, E_IPV6_NEEDS_BRACKETS,
 * E_ZONE_REQUIRED, E_INVALID_HOSTNAME, E_INVALID_PORT, E_INVALID_REMOTE, E_FAMILY_CONFLICT or
 * E_ENDPOINT_PARSE) whose index points at the offending character.
 */
export function parseHostPort(input: string, opts: HostPortRules & SourcePosition): Endpoint {
  const { src, start, fail } = locate(input, opts)
  const end = start + input.length
  const comma = indexIn(src, ',', start, end)
  const endpoint = scanHostPort(src, start, comma < 0 ? end : comma, opts, fail)
  if (comma < 0) return endpoint
  return withOptions(endpoint, parseOptions(src, comma, end, fail, 'E_ENDPOINT_PARSE'), fail, 'E_ENDPOINT_PARSE')
}

/**
 * Parses a host without a port: where no port can follow, an IPv6 address may go without
 * brackets (P3, e.g. `bind=::1`). Same checks and codes as parseHostPort.
 */
export function parseHost(input: string, opts: SourcePosition = {}): Host & Pick<Endpoint, 'warnings'> {
  const { src, start, fail } = locate(input, opts)
  const end = start + input.length
  const warnings: EndpointWarning[] = []
  let host: Host
  if (src[start] === '[') {
    const close = indexIn(src, ']', start, end)
    if (close < 0) fail('E_ENDPOINT_PARSE', "'[' is never closed by ']'", start)
    if (close + 1 < end) fail('E_ENDPOINT_PARSE', `nothing may follow ']' here: ${unexpected(src, close + 1)}`, close + 1)
    host = scanIPv6(src, start + 1, close, fail, warnings)
  } else if (indexIn(src, ':', start, end) >= 0) {
    host = scanIPv6(src, start, end, fail, warnings)
  } else {
    if (start === end) fail('E_ENDPOINT_PARSE', 'empty host', start)
    host = scanHost(src, start, end, fail)
  }
  return warnings.length ? { ...host, warnings } : host
}

/**
 * Parses the host:port in `src` between `start` and `end` (no options) with indexes into `src`.
 * For parsers that embed endpoints in a larger grammar, such as connector strings.
 */
export function scanHostPort(src: string, start: number, end: number, rules: HostPortRules, fail: Fail): Endpoint {
  const warnings: EndpointWarning[] = []
  let host: Host
  let portStart: number
  if (src[start] === '[' && start < end) {
    const close = indexIn(src, ']', start, end)
    if (close < 0) fail('E_ENDPOINT_PARSE', "'[' is never closed by ']'", start)
    if (close + 1 < end && src[close + 1] !== ':') {
      fail('E_ENDPOINT_PARSE', `expected ':' and a port after ']': ${unexpected(src, close + 1)}`, close + 1)
    }
    portStart = close + 1 < end ? close + 2 : -1
    if (portStart < 0) checkPortGiven(src, start, end, rules, fail)
    host = scanIPv6(src, start + 1, close, fail, warnings)
  } else {
    const colon = indexIn(src, ':', start, end)
    const second = colon < 0 ? -1 : indexIn(src, ':', colon + 1, end)
    if (second >= 0) rejectUnbracketed(src, start, end, second, fail)
    portStart = colon < 0 ? -1 : colon + 1
    if (portStart < 0) checkPortGiven(src, start, end, rules, fail)
    host = scanHost(src, start, colon < 0 ? end : colon, fail)
  }
  const port = portStart < 0 ? (rules.defaultPort ?? 0) : scanPort(src, portStart, end, fail)

  if (rules.role === 'connect') {
    if (host.hostKind === 'wildcard') {
      fail('E_INVALID_REMOTE', "'*' (every local address) cannot be a remote address: name the host to reach", start)
    }
    if (host.host === '0.0.0.0' || host.host === '::') {
      fail('E_INVALID_REMOTE', `the unspecified address ${host.host} cannot be a remote address: name the host to reach`, start)
    }
    if (port === 0) fail('E_INVALID_PORT', 'port 0 is valid only for listening: a remote needs a real port', portStart < 0 ? end : portStart)
  }
  if (rules.family === 4 && host.hostKind === 'ipv6') {
    fail('E_FAMILY_CONFLICT', `IPv6 address ${host.host} cannot be used when IPv4 is forced`, start)
  }
  if (rules.family === 6 && host.hostKind === 'ipv4') {
    const mapped = warnings.some((w) => w.code === 'W_V4MAPPED_NORMALIZED') ? ' (a v4-mapped address counts as IPv4)' : ''
    fail('E_FAMILY_CONFLICT', `IPv4 address ${host.host}${mapped} cannot be used when IPv6 is forced`, start)
  }

  const endpoint: Endpoint = { ...host, port, options: {} }
  if (rules.family !== undefined) endpoint.family = rules.family
  if (warnings.length) endpoint.warnings = warnings
  return endpoint
}

/**
 * Moves parsed options onto an endpoint: `iface=` becomes `iface` (checked like a zone), the
 * rest stay in `options`. An `iface=` that contradicts an interface already set is an error.
 */
export function withOptions(endpoint: Endpoint, parsed: ParsedOptions, fail: Fail, code: string): Endpoint {
  const options = { ...parsed.options }
  if (Object.hasOwn(options, 'iface')) {
    const at = parsed.at.iface ?? 0
    const checked = checkInterfaceName(options.iface ?? '')
    if (!checked.ok) fail(code, checked.message, at + checked.index)
    if (endpoint.iface !== undefined && endpoint.iface !== checked.value) {
      fail(code, `iface=${checked.value} contradicts the interface '${endpoint.iface}' given before`, at)
    }
    endpoint.iface = checked.value
    delete options.iface
  }
  endpoint.options = options
  return endpoint
}

/**
 * Canonical text (P9): lowercase, RFC 5952 IPv6 in brackets with its zone, `*` for wildcards,
 * options in key order with `iface=` among them. `family` is not written: the context that
 * forced it (a connector kind) writes it.
 */
export function formatEndpoint(e: Endpoint): string {
  const options = e.iface === undefined ? e.options : { ...e.options, iface: e.iface }
  return formatHostPort(e) + formatOptions(options)
}

/** `host:port` alone, canonical as in formatEndpoint. */
export function formatHostPort(e: Pick<Endpoint, 'host' | 'hostKind' | 'zone' | 'port'>): string {
  return `${formatHost(e)}:${e.port}`
}

/** The host alone, IPv6 in brackets; `zoneSeparator` is '%25' inside URLs (RFC 6874). */
export function formatHost(e: Pick<Endpoint, 'host' | 'hostKind' | 'zone'>, zoneSeparator = '%'): string {
  switch (e.hostKind) {
    case 'wildcard':
      return '*'
    case 'ipv6': {
      const parsed = parseIPv6(e.host)
      const host = parsed.ok ? formatIPv6(parsed.value) : e.host.toLowerCase()
      if (e.zone === undefined) return `[${host}]`
      // A zone that itself starts with '25' must not be read back as the %25 escape.
      const separator = zoneSeparator === '%' && e.zone.startsWith('25') && e.zone.length > 2 ? '%25' : zoneSeparator
      return `[${host}${separator}${e.zone}]`
    }
    default:
      return e.host.toLowerCase()
  }
}

function locate(input: string, opts: SourcePosition): { src: string; start: number; fail: Fail } {
  if (opts.source === undefined) return { src: input, start: 0, fail: failer(input, opts.offset ?? 0) }
  const start = opts.offset ?? 0
  if (opts.source.slice(start, start + input.length) !== input) {
    throw new RangeError('input must equal source.slice(offset, offset + input.length)')
  }
  return { src: opts.source, start, fail: failer(opts.source) }
}

/** An IPv4 literal, a name or a wildcard, from an unbracketed host. */
function scanHost(src: string, start: number, end: number, fail: Fail): Host {
  const text = src.slice(start, end)
  if (text === '' || text === '*') return { host: '*', hostKind: 'wildcard' }
  if (endsInNumber(text)) {
    // A name ending in a number is an IPv4 attempt (WHATWG URL, inet_aton); say which part is wrong.
    const last = text.replace(/\.$/, '').lastIndexOf('.') + 1
    if (!/^[0-9.]*$/.test(text.slice(0, last)) && !/^0[xX]/.test(text)) {
      fail('E_INVALID_HOSTNAME', `a host name cannot end in a number ('${text.slice(last).replace(/\.$/, '')}'): it would be read as an IPv4 address`, start + last)
    }
    const v4 = parseIPv4(text)
    if (!v4.ok) fail('E_INVALID_IPV4', v4.message, start + v4.index)
    return { host: v4.value.join('.'), hostKind: 'ipv4' }
  }
  const name = normalizeHostname(text)
  if (!name.ok) fail('E_INVALID_HOSTNAME', name.message, start + name.index)
  return { host: name.value, hostKind: 'name' }
}

/** An IPv6 literal with optional zone between `start` and `end` (brackets excluded). */
function scanIPv6(src: string, start: number, end: number, fail: Fail, warnings: EndpointWarning[]): Host {
  const pct = indexIn(src, '%', start, end)
  const parsed = parseIPv6(src.slice(start, pct < 0 ? end : pct))
  if (!parsed.ok) fail('E_ENDPOINT_PARSE', parsed.message, start + parsed.index)
  const groups = parsed.value
  let zone: string | undefined
  if (pct >= 0) {
    let at = pct + 1
    // RFC 6874 writes the zone separator as %25 in URLs; a bare %25 stays zone 25 (an index).
    if (src.startsWith('25', at) && at + 2 < end) at += 2
    const checked = checkInterfaceName(src.slice(at, end), 'zone')
    if (!checked.ok) fail('E_ENDPOINT_PARSE', checked.message, at + checked.index)
    zone = checked.value
  }
  const mapped = v4Mapped(groups)
  const host: Host = mapped === undefined ? { host: formatIPv6(groups), hostKind: 'ipv6' } : { host: mapped, hostKind: 'ipv4' }
  if (mapped !== undefined) {
    warnings.push({ code: 'W_V4MAPPED_NORMALIZED', message: `v4-mapped address ${formatIPv6(groups)} is used as the IPv4 address ${mapped}` })
  }
  if (zone !== undefined && (mapped !== undefined || !needsZone(groups))) {
    warnings.push({ code: 'W_ZONE_IGNORED', message: `zone '${zone}' is ignored: ${host.host} is not a link-local address` })
    zone = undefined
  }
  if (zone === undefined && host.hostKind === 'ipv6' && needsZone(groups)) {
    const what = multicastScope(groups) === undefined ? 'link-local address' : 'multicast address with interface or link scope'
    fail('E_ZONE_REQUIRED', `${what} ${host.host} needs a zone naming the interface, e.g. [${host.host}%eth0]`, end)
  }
  if (zone !== undefined) host.zone = zone
  return host
}

/**
 * When `text` is an IPv6 address written without brackets (optionally with zone and `:port`),
 * the message telling the user how to bracket it (P3); otherwise undefined.
 */
export function unbracketedIPv6Message(text: string): string | undefined {
  const last = text.lastIndexOf(':')
  const head = text.slice(0, last)
  const tail = text.slice(last + 1)
  const isIPv6 = (s: string) => s.includes(':') && parseIPv6(s.split('%')[0] ?? '').ok
  if (/^[0-9]+$/.test(tail) && isIPv6(head)) return `an IPv6 address followed by a port must be in brackets: write [${head}]:${tail}`
  if (isIPv6(text)) return `an IPv6 address must be in brackets and followed by a port: write [${text}]:<port>`
  return undefined
}

/** ≥2 colons outside brackets: an IPv6 address that needs brackets, or a stray ':'. */
function rejectUnbracketed(src: string, start: number, end: number, second: number, fail: Fail): never {
  const message = unbracketedIPv6Message(src.slice(start, end))
  if (message !== undefined) fail(NEEDS_BRACKETS, message, start)
  return fail('E_ENDPOINT_PARSE', `host:port has one ':' (IPv6 addresses go in brackets): ${unexpected(src, second)}`, second)
}

function checkPortGiven(src: string, start: number, end: number, rules: HostPortRules, fail: Fail): void {
  if (rules.defaultPort !== undefined) return
  const text = src.slice(start, end)
  const hint = /^[0-9]+$/.test(text) ? ` ('${text}' reads as a host: write :${text} or *:${text} for every address)` : ' (write host:port)'
  fail('E_INVALID_PORT', `missing port${hint}`, end)
}

/** A decimal port 0–65535 (P6); service names are refused because runtimes cannot look them up. */
function scanPort(src: string, start: number, end: number, fail: Fail): number {
  const text = src.slice(start, end)
  if (text === '') fail('E_INVALID_PORT', "missing port after ':'", end)
  if (/^[A-Za-z][A-Za-z0-9_-]*$/.test(text)) {
    fail('E_INVALID_PORT', `service names such as '${text}' are not supported: write the port number`, start)
  }
  const bad = text.search(/[^0-9]/)
  if (bad >= 0) fail('E_INVALID_PORT', `invalid port: ${unexpected(text, bad)}`, start + bad)
  if (text.length > 1 && text[0] === '0') fail('E_INVALID_PORT', `port '${text}' has a leading zero`, start)
  if (text.length > 5 || Number(text) > 65535) fail('E_INVALID_PORT', `port ${text} is out of range 0–65535`, start)
  return Number(text)
}
