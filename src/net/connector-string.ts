/**
 * Connector strings (docs/addresses.md#where-an-address-appears): uhppoted-tunnel's `kind/role:address` form, so its users'
 * command lines work unchanged, plus IPv6, URLs for ws/client, a family digit on the kind
 * (`udp6/listen:…`, docs/addresses.md P1) and options after commas. Pure parsing.
 */
import {
  type Endpoint,
  formatHost,
  formatHostPort,
  type HostPortRules,
  scanHostPort,
  unbracketedIPv6Message,
  withOptions,
} from './endpoint.ts'
import { ParseError } from '../base/errors.ts'
import { checkInterfaceName } from './interface-name.ts'
import { formatOptions, parseOptions } from './options.ts'
import { type Fail, failer, indexIn, unexpected } from '../base/scan.ts'

/** A parsed connector string. */
export interface ConnectorSpec {
  /** udp, tcp, tls, ws, grpc, zmq, xmpp, http, https, ip, socks5 or http-proxy (lowercase, without the family digit). */
  kind: string
  /** listen, broadcast, event, server, client or out (ip/out); '' for http and https. */
  role: string
  /** Where to listen or connect; its `family` carries a `udp6/`-style digit. */
  endpoint?: Endpoint
  /** ws/client only: the canonical ws:// or wss:// URL (zone written %25, RFC 6874). */
  url?: string
  /** xmpp/client only: the account's bare JID (`near@example.org`); `endpoint` is its domain, port 5223. */
  jid?: string
  /** ws only: the HTTP path (and, for clients, query) of the tunnel; '/' when not given. */
  path?: string
  /** Interface from uhppoted-tunnel's `::eth0:` prefix or an `iface=` option. */
  iface?: string
  /** Options after commas other than `iface`, keys lowercase, bare keys as ''. */
  options: Record<string, string>
  /** The string as given. */
  text: string
}

/** Known kinds and their roles; a kind with no roles is written `kind/address`. */
export const CONNECTOR_ROLES: Readonly<Record<string, readonly string[]>> = {
  udp: ['listen', 'broadcast', 'event', 'client', 'p2p'],
  tcp: ['server', 'client', 'listen', 'connect', 'dial'],
  tls: ['server', 'client'],
  ws: ['server', 'client'],
  grpc: ['server', 'client'],
  zmq: ['server', 'client'],
  xmpp: ['client'],
  http: [],
  https: [],
  ip: ['out'],
  socks5: ['listen'],
  'http-proxy': ['listen'],
}

// Roles that reach out to a remote; the others bind. udp/event binds here because its port 0
// check depends on whether it is used as in or out, which the caller decides later.
const CONNECTING_ROLES = new Set(['broadcast', 'client', 'out', 'connect'])
/** Roles written without an address (`tcp/dial`, options may follow a comma): they dial what the other side names. */
const ADDRESSLESS_ROLES = new Set(['dial'])
const CODE = 'E_CONNECTOR_PARSE'
const PATH_CHAR = /[A-Za-z0-9\-._~!$&'()*+;=:@/]/

/**
 * Parses a connector string such as `udp/listen:0.0.0.0:60000`, `tcp/client::eth0:10.0.0.1:12345`,
 * `tls/client:host:443,sni=relay.example.com` or `ws/client:wss://relay.example.com/tunnel`.
 * Throws a ParseError naming the offending character and its index: E_CONNECTOR_PARSE for the
 * connector's own syntax, the endpoint codes (E_INVALID_PORT, …) for the address. Options start
 * at the first comma, so a comma in a ws path is written %2C.
 */
export function parseConnector(text: string): ConnectorSpec {
  const fail = failer(text)
  const { kind, family, slash } = scanKind(text, fail)
  const { role, addrStart } = scanRole(text, kind, slash, fail)
  if (ADDRESSLESS_ROLES.has(role)) return addressless(text, kind, role, addrStart, fail)
  const comma = indexIn(text, ',', addrStart, text.length)
  const addrEnd = comma < 0 ? text.length : comma
  const rules: HostPortRules = { role: CONNECTING_ROLES.has(role) ? 'connect' : 'listen' }
  if (family !== undefined) rules.family = family

  let address: Address
  if (role !== '' && text[addrStart] === ':' && indexIn(text, ':', addrStart + 1, addrEnd) >= 0) {
    // uhppoted-tunnel's `:eth0:host:port` (or `::host:port`, no interface). When that reading
    // fails, `::1:80` was probably an IPv6 address without brackets: say so instead.
    try {
      address = scanPrefixed(text, addrStart, addrEnd, kind, role, rules, fail)
    } catch (err) {
      const end = kind === 'ws' ? firstOf(text, '/', addrStart, addrEnd) : addrEnd
      const message = unbracketedIPv6Message(text.slice(addrStart, end))
      if (message !== undefined && err instanceof ParseError) fail('E_IPV6_NEEDS_BRACKETS', message, addrStart)
      throw err
    }
  } else {
    address = scanTarget(text, addrStart, addrEnd, kind, role, rules, fail)
  }
  const { endpoint, iface } = address
  const spec: ConnectorSpec = { kind, role, options: {}, text }
  if (address.path !== undefined) spec.path = address.path
  if (address.url !== undefined) spec.url = address.url
  if (address.jid !== undefined) spec.jid = address.jid
  if (iface !== undefined) endpoint.iface = iface
  if (comma >= 0) withOptions(endpoint, parseOptions(text, comma, text.length, fail, CODE), fail, CODE)
  spec.endpoint = endpoint
  spec.options = { ...endpoint.options }
  if (endpoint.iface !== undefined) spec.iface = endpoint.iface
  return spec
}

/**
 * Canonical connector text: lowercase kind and role, the family digit, the `::iface:` prefix,
 * the canonical endpoint (or URL for ws/client), then options in key order.
 */
export function formatConnector(spec: Omit<ConnectorSpec, 'text'>): string {
  const e = spec.endpoint
  const kind = `${spec.kind}${e?.family ?? ''}`
  const iface = spec.iface ?? e?.iface
  if (ADDRESSLESS_ROLES.has(spec.role)) return `${kind}/${spec.role}${formatOptions(spec.iface === undefined ? spec.options : { ...spec.options, iface: spec.iface })}`
  let out = spec.role === '' ? `${kind}/` : `${kind}/${spec.role}:`
  if (iface !== undefined && spec.role !== '') out += `:${iface}:`
  if (spec.url !== undefined && spec.kind === 'ws' && spec.role === 'client') out += spec.url
  else if (e !== undefined && spec.jid !== undefined) out += `${spec.jid.slice(0, spec.jid.lastIndexOf('@') + 1)}${formatHostPort(e)}`
  else if (e !== undefined) out += formatHostPort(e) + (spec.path !== undefined && spec.path !== '/' ? spec.path : '')
  const options = iface !== undefined && spec.role === '' ? { ...spec.options, iface } : spec.options
  return out + formatOptions(options)
}

/** `tcp/dial[,options]`: no endpoint; `iface=` is checked as anywhere else. */
function addressless(text: string, kind: string, role: string, start: number, fail: Fail): ConnectorSpec {
  const spec: ConnectorSpec = { kind, role, options: {}, text }
  if (start === text.length) return spec
  const parsed = parseOptions(text, start, text.length, fail, CODE)
  const options = { ...parsed.options }
  if (Object.hasOwn(options, 'iface')) {
    const checked = checkInterfaceName(options.iface ?? '')
    if (!checked.ok) fail(CODE, checked.message, (parsed.at.iface ?? 0) + checked.index)
    spec.iface = checked.value
    delete options.iface
  }
  spec.options = options
  return spec
}

interface Address {
  endpoint: Endpoint
  jid?: string
  iface?: string
  path?: string
  url?: string
}

/** `:eth0:` then the target; the caller has checked that a second ':' follows the first. */
function scanPrefixed(text: string, start: number, end: number, kind: string, role: string, rules: HostPortRules, fail: Fail): Address {
  const colon = indexIn(text, ':', start + 1, end)
  const name = text.slice(start + 1, colon)
  if (name === '') return scanTarget(text, colon + 1, end, kind, role, rules, fail)
  const checked = checkInterfaceName(name)
  if (!checked.ok) fail(CODE, checked.message, start + 1 + checked.index)
  return { ...scanTarget(text, colon + 1, end, kind, role, rules, fail), iface: checked.value }
}

/** A ws/client URL, or host:port with a path for ws. */
function scanTarget(text: string, p: number, end: number, kind: string, role: string, rules: HostPortRules, fail: Fail): Address {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text.slice(p, end))
  if (scheme) {
    if (kind !== 'ws' || role !== 'client') {
      fail(CODE, `a URL is accepted only by ws/client: write ${kind}${role ? `/${role}:` : '/'}host:port`, p)
    }
    const name = (scheme[1] ?? '').toLowerCase()
    if (name !== 'ws' && name !== 'wss') fail(CODE, `unsupported URL scheme '${scheme[1]}': ws/client takes ws:// or wss://`, p)
    const defaultPort = name === 'wss' ? 443 : 80
    const authority = p + scheme[0].length
    const authorityEnd = firstOf(text, '/?#', authority, end)
    const at = indexIn(text, '@', authority, authorityEnd)
    if (at >= 0) fail(CODE, 'credentials in the URL are not supported: use --token', at)
    const endpoint = scanHostPort(text, authority, authorityEnd, { ...rules, defaultPort }, fail)
    const path = scanPath(text, authorityEnd, end, true, fail)
    return { endpoint, path, url: url(name, endpoint, defaultPort, path) }
  }
  if (kind === 'xmpp') {
    // A JID, local@domain: the domain is where to connect (XEP-0368 direct TLS, port 5223).
    const at = indexIn(text, '@', p, end)
    if (at <= p) fail(CODE, 'xmpp/client takes the account\'s JID: xmpp/client:near@example.org,to=far@example.org', p)
    const bad = text.slice(p, at).search(/[\s"&'/:<>@]/)
    if (bad >= 0) fail(CODE, `${unexpected(text, p + bad)} in the JID's local part`, p + bad)
    const endpoint = scanHostPort(text, at + 1, end, { ...rules, defaultPort: 5223 }, fail)
    return { endpoint, jid: `${text.slice(p, at).toLowerCase()}@${endpoint.host.toLowerCase()}` }
  }
  if (kind === 'ws') {
    const pathStart = firstOf(text, '/', p, end)
    const endpoint = scanHostPort(text, p, pathStart, rules, fail)
    const path = scanPath(text, pathStart, end, role === 'client', fail)
    return role === 'client' ? { endpoint, path, url: url('ws', endpoint, 80, path) } : { endpoint, path }
  }
  return { endpoint: scanHostPort(text, p, end, rules, fail) }
}

function scanKind(text: string, fail: Fail): { kind: string; family?: 4 | 6; slash: number } {
  let i = 0
  while (i < text.length && /[A-Za-z0-9-]/.test(text[i] ?? '')) i++
  const token = text.slice(0, i).toLowerCase()
  // Lazy, so a kind ending in a digit keeps it: socks5 (kind), socks56 (socks5 + the IPv6 digit).
  const match = /^([a-z][a-z0-9-]*?)([46])?$/.exec(token)
  const kind = match?.[1] ?? token
  if (!Object.hasOwn(CONNECTOR_ROLES, kind)) {
    if (text === '') fail(CODE, 'empty connector: expected kind/role:address, e.g. udp/listen:0.0.0.0:60000', 0)
    if (token === '') fail(CODE, `a connector starts with its kind (${kinds()}): ${unexpected(text, 0)}`, 0)
    fail(CODE, `unknown connector kind '${text.slice(0, i)}': expected one of ${kinds()}`, 0)
  }
  if (text[i] !== '/') fail(CODE, `'${text.slice(0, i)}' must be followed by '/' as in ${example(kind)}: ${unexpected(text, i)}`, i)
  const digit = match?.[2]
  return digit === undefined ? { kind, slash: i } : { kind, family: digit === '4' ? 4 : 6, slash: i }
}

function scanRole(text: string, kind: string, slash: number, fail: Fail): { role: string; addrStart: number } {
  const roles = CONNECTOR_ROLES[kind] ?? []
  if (roles.length === 0) return { role: '', addrStart: slash + 1 }
  let j = slash + 1
  while (j < text.length && /[A-Za-z0-9]/.test(text[j] ?? '')) j++
  const role = text.slice(slash + 1, j).toLowerCase()
  if (!roles.includes(role)) {
    const valid = roles.map((r) => `${kind}/${r}`).join(', ')
    if (role === '') fail(CODE, `missing role after '${kind}/': expected one of ${valid}`, slash + 1)
    fail(CODE, `unknown role '${text.slice(slash + 1, j)}' for ${kind}: expected one of ${valid}`, slash + 1)
  }
  if (ADDRESSLESS_ROLES.has(role)) {
    if (j < text.length && text[j] !== ',') fail(CODE, `'${kind}/${role}' takes no address (it dials what the other half names, within --allow); options may follow a comma: ${unexpected(text, j)}`, j)
    return { role, addrStart: j }
  }
  if (text[j] !== ':') fail(CODE, `'${kind}/${role}' must be followed by ':' and an address: ${unexpected(text, j)}`, j)
  return { role, addrStart: j + 1 }
}

/** A ws path: '/' plus URL path characters, with a query for clients only; '/' when absent. */
function scanPath(text: string, start: number, end: number, query: boolean, fail: Fail): string {
  if (start === end) return '/'
  let inQuery = false
  for (let i = start; i < end; i++) {
    const ch = text[i] ?? ''
    if (ch === '%') {
      if (!/^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3)) || i + 3 > end) fail(CODE, "'%' in a path must start an escape such as %2C", i)
      i += 2
    } else if (ch === '?' && (query || inQuery)) {
      inQuery = true
    } else if (ch === '?') {
      fail(CODE, 'a server path cannot have a query', i)
    } else if (ch === '#') {
      fail(CODE, "a URL fragment is never sent to the server: unexpected character '#'", i)
    } else if (!PATH_CHAR.test(ch)) {
      fail(CODE, `invalid path: ${unexpected(text, i)}`, i)
    }
  }
  const path = text.slice(start, end)
  return path.startsWith('?') ? `/${path}` : path
}

function url(scheme: string, e: Endpoint, defaultPort: number, path: string): string {
  const port = e.port === defaultPort ? '' : `:${e.port}`
  return `${scheme}://${formatHost(e, '%25')}${port}${path}`
}

/** Index of the first of `chars` in text[from, to), or `to`. */
function firstOf(text: string, chars: string, from: number, to: number): number {
  for (let i = from; i < to; i++) if (chars.includes(text[i] ?? '')) return i
  return to
}

function kinds(): string {
  return Object.keys(CONNECTOR_ROLES).join(', ')
}

function example(kind: string): string {
  const role = CONNECTOR_ROLES[kind]?.[0]
  return role === undefined ? `${kind}/0.0.0.0:8080` : `${kind}/${role}:0.0.0.0:60000`
}
