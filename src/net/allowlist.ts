/**
 * --allow: which destinations a half dials when the other side chooses them (tcp/dial, and later
 * SOCKS5, HTTP CONNECT and the edge). Pure: it checks names and addresses; the caller resolves.
 *
 *   --allow 10.0.0.0/8:22,db.internal:5432,*.corp.example:443,[fd00::/8]:8000-8100,!10.9.0.0/16
 *
 * Each entry is `[!]host[:ports]`. host is `*` (anything), an address, a CIDR block, a name, or
 * `*.suffix` (any name below suffix, not suffix itself); IPv6 with ports goes in brackets. ports
 * is a port, a range `a-b` or `*`; without it every port. `!` denies, and a deny beats any allow.
 *
 * A destination given by name is allowed when a name entry matches it, and then every address it
 * resolves to is checked again: a deny entry removes the address, and so does a loopback,
 * link-local, unspecified or multicast address unless an address entry covers it (a name must not
 * lead into the far half's own host). A name no name entry matches is allowed only for the
 * addresses an address entry covers. An address given literally needs an address entry (or `*`).
 */
import { RelayError } from '../base/errors.ts'
import type { ResolvedAddress } from '../ports/runtime.ts'
import { normalizeHostname } from './hostname.ts'
import { parseIPv4, parseIPv6 } from '../base/ip.ts'

interface Rule {
  /** The entry as written, for logs. */
  text: string
  deny: boolean
  host: { kind: 'any' } | { kind: 'name'; name: string } | { kind: 'suffix'; suffix: string } | { kind: 'net'; family: 4 | 6; bytes: number[]; bits: number }
  portLow: number
  portHigh: number
}

export interface AllowVerdict {
  allowed: boolean
  /** Why, naming the entry that decided (`rule '10.0.0.0/8:22'`, `no --allow entry matches`). */
  why: string
}

export interface NameVerdict extends AllowVerdict {
  /** A name entry allowed the name: its addresses are still checked (checkAddresses). */
  byName?: string
}

export class Allowlist {
  readonly text: string
  private readonly rules: Rule[]

  private constructor(text: string, rules: Rule[]) {
    this.text = text
    this.rules = rules
  }

  /** Parses --allow; throws E_CONFIG naming the entry that is wrong. */
  static parse(text: string): Allowlist {
    const entries = text.split(',').map((e) => e.trim())
    if (entries.length === 0 || entries.some((e) => e === '')) throw new RelayError('E_CONFIG', `--allow '${text}': an empty entry (entries are separated by commas, e.g. 10.0.0.0/8:22,db.internal:5432)`)
    return new Allowlist(text, entries.map(parseRule))
  }

  /** Everything is allowed (an allowing `*` entry for every port): worth a warning at start. */
  get opensEverything(): boolean {
    return this.rules.some((r) => !r.deny && r.host.kind === 'any' && r.portLow === 1 && r.portHigh === 65535)
  }

  /**
   * A destination before resolution. For an address the verdict is final. For a name, `allowed`
   * means "resolve it, then checkAddresses": with `byName` when a name entry matched.
   */
  checkName(host: string, port: number): NameVerdict {
    const literal = addressBytes(host)
    if (literal) return this.checkBytes(literal, port, undefined, host)
    const name = host.toLowerCase().replace(/\.$/, '')
    let byName: Rule | undefined
    for (const r of this.rules) {
      if (!portMatches(r, port) || !nameMatches(r, name)) continue
      if (r.deny) return { allowed: false, why: `entry '${r.text}'` }
      byName ??= r
    }
    if (byName) return { allowed: true, why: `entry '${byName.text}'`, byName: byName.text }
    const anyNet = this.rules.some((r) => !r.deny && r.host.kind === 'net' && portMatches(r, port))
    return anyNet ? { allowed: true, why: 'address entries decide after resolution' } : { allowed: false, why: 'no --allow entry matches' }
  }

  /** The resolved addresses of a name that checkName allowed: which may be dialled, and why the others may not. */
  checkAddresses(addresses: ResolvedAddress[], port: number, byName: string | undefined): { allowed: ResolvedAddress[]; denied: { address: string; why: string }[] } {
    const allowed: ResolvedAddress[] = []
    const denied: { address: string; why: string }[] = []
    const nameRule = byName === undefined ? undefined : this.rules.find((r) => r.text === byName)
    for (const a of addresses) {
      const bytes = addressBytes(a.address)
      const verdict = bytes ? this.checkBytes(bytes, port, nameRule, a.address) : { allowed: false, why: 'not an address' }
      if (verdict.allowed) allowed.push(a)
      else denied.push({ address: a.address, why: verdict.why })
    }
    return { allowed, denied }
  }

  private checkBytes(addr: Address, port: number, nameRule: Rule | undefined, text: string): AllowVerdict {
    let allow: Rule | undefined
    for (const r of this.rules) {
      if (!portMatches(r, port)) continue
      if (r.host.kind === 'net' && inNet(addr, r.host)) {
        if (r.deny) return { allowed: false, why: `entry '${r.text}'` }
        allow ??= r
      } else if (r.host.kind === 'any') {
        if (r.deny) return { allowed: false, why: `entry '${r.text}'` }
        allow ??= r
      }
    }
    if (allow) return { allowed: true, why: `entry '${allow.text}'` }
    if (nameRule) {
      const special = specialRange(addr)
      if (special) return { allowed: false, why: `${text} is ${special}: entry '${nameRule.text}' names a host, and only an address entry (such as ${addr.family === 6 ? `[${text}]` : text}:${port}) lets a name lead there` }
      return { allowed: true, why: `entry '${nameRule.text}'` }
    }
    return { allowed: false, why: 'no --allow entry matches' }
  }
}

interface Address {
  family: 4 | 6
  bytes: number[]
}

/** An address literal (zone dropped, IPv4-mapped IPv6 read as IPv4) as bytes; undefined for a name. */
export function addressBytes(text: string): Address | undefined {
  const host = text.replace(/^\[|\]$/g, '').replace(/%.*$/, '')
  const v4 = parseIPv4(host)
  if (v4.ok) return { family: 4, bytes: v4.value }
  if (!host.includes(':')) return undefined
  const v6 = parseIPv6(host)
  if (!v6.ok) return undefined
  const g = v6.value
  const bytes = g.flatMap((x) => [x >> 8, x & 0xff])
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return { family: 4, bytes: bytes.slice(12) }
  return { family: 6, bytes }
}

export function inNet(a: Address, net: { family: 4 | 6; bytes: number[]; bits: number }): boolean {
  if (a.family !== net.family) return false
  let bits = net.bits
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff
    if ((a.bytes[i]! & mask) !== (net.bytes[i]! & mask)) return false
  }
  return true
}

/** Ranges a name must not lead to without an address entry: the far half's own host and its link. */
function specialRange(a: Address): string | undefined {
  const b = a.bytes
  if (a.family === 4) {
    if (b[0] === 127) return 'a loopback address'
    if (b[0] === 0) return 'an unspecified address'
    if (b[0] === 169 && b[1] === 254) return 'a link-local address'
    if (b[0]! >= 224) return 'a multicast or reserved address'
    return undefined
  }
  if (b.slice(0, 15).every((x) => x === 0) && (b[15] === 1 || b[15] === 0)) return b[15] === 1 ? 'a loopback address' : 'an unspecified address'
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return 'a link-local address'
  if (b[0] === 0xff) return 'a multicast address'
  return undefined
}

function portMatches(r: Rule, port: number): boolean {
  return port >= r.portLow && port <= r.portHigh
}

function nameMatches(r: Rule, name: string): boolean {
  switch (r.host.kind) {
    case 'any':
      return true
    case 'name':
      return r.host.name === name
    case 'suffix':
      return name.endsWith(`.${r.host.suffix}`)
    default:
      return false
  }
}

function parseRule(entry: string): Rule {
  const fail = (why: string): never => {
    throw new RelayError('E_CONFIG', `--allow entry '${entry}': ${why} (entries look like 10.0.0.0/8:22, db.internal:5432, *.corp.example:443, [fd00::/8]:8000-8100, !10.9.0.0/16 or *)`)
  }
  const deny = entry.startsWith('!')
  const body = deny ? entry.slice(1) : entry
  let hostText: string
  let portText: string | undefined
  if (body.startsWith('[')) {
    const close = body.indexOf(']')
    if (close < 0) fail("an IPv6 entry opened with '[' has no ']'")
    hostText = body.slice(1, close)
    const rest = body.slice(close + 1)
    if (rest !== '' && !rest.startsWith(':')) fail(`unexpected '${rest}' after ']'`)
    portText = rest === '' ? undefined : rest.slice(1)
  } else if ((body.match(/:/g) ?? []).length > 1) {
    // An IPv6 address or block without brackets: every port.
    hostText = body
  } else {
    const colon = body.indexOf(':')
    hostText = colon < 0 ? body : body.slice(0, colon)
    portText = colon < 0 ? undefined : body.slice(colon + 1)
  }
  const [portLow, portHigh] = portText === undefined ? [1, 65535] : parsePorts(portText, fail)
  return { text: entry, deny, host: parseHostPattern(hostText, fail), portLow, portHigh }
}

function parsePorts(text: string, fail: (why: string) => never): [number, number] {
  if (text === '*') return [1, 65535]
  const m = /^([0-9]{1,5})(?:-([0-9]{1,5}))?$/.exec(text)
  if (!m) return fail(`'${text}' is not a port, a range a-b or *`)
  const low = Number(m[1])
  const high = m[2] === undefined ? low : Number(m[2])
  if (low < 1 || high > 65535 || low > high) return fail(`port range ${text} is not within 1-65535 (low to high)`)
  return [low, high]
}

function parseHostPattern(text: string, fail: (why: string) => never): Rule['host'] {
  if (text === '*') return { kind: 'any' }
  if (text === '') return fail('no host')
  const slash = text.indexOf('/')
  const addrText = slash < 0 ? text : text.slice(0, slash)
  const addr = addressBytes(addrText)
  if (addr) {
    const max = addr.family === 4 ? 32 : 128
    // An IPv4-mapped block is written as IPv4.
    const bitsText = slash < 0 ? String(max) : text.slice(slash + 1)
    if (!/^[0-9]{1,3}$/.test(bitsText) || Number(bitsText) > max) fail(`prefix length '/${bitsText}' must be 0-${max}`)
    return { kind: 'net', family: addr.family, bytes: addr.bytes, bits: Number(bitsText) }
  }
  if (slash >= 0) return fail(`'${addrText}' is not an IP address, so it cannot have a prefix length`)
  if (text.startsWith('*.')) {
    const suffix = normalizeHostname(text.slice(2))
    if (!suffix.ok) return fail(suffix.message)
    return { kind: 'suffix', suffix: suffix.value }
  }
  if (text.includes('*')) return fail("'*' is allowed only alone or as the first label (*.corp.example)")
  const name = normalizeHostname(text)
  if (!name.ok) return fail(name.message)
  return { kind: 'name', name: name.value }
}
