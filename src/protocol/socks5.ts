/**
 * SOCKS version 5 as a server reads and writes it (RFC 1928, username/password RFC 1929): the
 * greeting, the sub-negotiation, the request, the reply, and the header of UDP ASSOCIATE datagrams.
 * Pure: each parser takes the bytes received so far and says `more` (incomplete), `bad` (with the
 * reply to send, if any) or what it read and how many bytes that took. Every message has a fixed
 * upper size (SOCKS_MAX_MESSAGE), so a server needs one small buffer per client and never more.
 */
import { parseIPv4, parseIPv6 } from '../base/ip.ts'

export const SOCKS_VERSION = 5
/** RFC 1929's sub-negotiation version. */
export const USERPASS_VERSION = 1

export const Method = { noAuth: 0x00, userPass: 0x02, noneAcceptable: 0xff } as const

export const Command = { connect: 1, bind: 2, udpAssociate: 3 } as const

export const AddressType = { ipv4: 1, domain: 3, ipv6: 4 } as const

export const Reply = {
  succeeded: 0x00,
  failure: 0x01,
  notAllowed: 0x02,
  networkUnreachable: 0x03,
  hostUnreachable: 0x04,
  refused: 0x05,
  ttlExpired: 0x06,
  commandNotSupported: 0x07,
  addressTypeNotSupported: 0x08,
} as const

/**
 * The largest message a client sends before its stream is open: the sub-negotiation, 1 + 1 + 255 +
 * 1 + 255 bytes (a greeting is at most 257, a request 262).
 */
export const SOCKS_MAX_MESSAGE = 513

export type Parsed<T> = { kind: 'more' } | { kind: 'bad'; why: string; reply?: number } | ({ kind: 'done'; used: number } & T)

const MORE = { kind: 'more' } as const

function bad(why: string, reply?: number): { kind: 'bad'; why: string; reply?: number } {
  return reply === undefined ? { kind: 'bad', why } : { kind: 'bad', why, reply }
}

/** What the version byte says when it is not 5: SOCKS4 clients and HTTP clients are common mistakes. */
function wrongVersion(v: number): string {
  if (v === 4) return 'version 4 (a SOCKS4 client; only SOCKS5 is served)'
  if (v >= 0x41 && v <= 0x5a) return `version byte 0x${v.toString(16)} ('${String.fromCharCode(v)}': an HTTP request? use http-proxy/listen)`
  return `version ${v}, expected 5`
}

/** VER NMETHODS METHODS: the methods the client offers. */
export function parseGreeting(b: Uint8Array): Parsed<{ methods: Uint8Array }> {
  if (b.length < 1) return MORE
  if (b[0] !== SOCKS_VERSION) return bad(wrongVersion(b[0]!))
  if (b.length < 2) return MORE
  const n = b[1]!
  if (n === 0) return bad('the greeting offers no authentication method (NMETHODS 0)')
  if (b.length < 2 + n) return MORE
  return { kind: 'done', used: 2 + n, methods: b.subarray(2, 2 + n) }
}

/** The server's choice of method (0xff: none of them). */
export function encodeMethod(method: number): Uint8Array {
  return Uint8Array.of(SOCKS_VERSION, method)
}

/** RFC 1929: VER ULEN UNAME PLEN PASSWD. The name and password are bytes (usually UTF-8). */
export function parseUserPass(b: Uint8Array): Parsed<{ user: Uint8Array; password: Uint8Array }> {
  if (b.length < 1) return MORE
  if (b[0] !== USERPASS_VERSION) return bad(`username/password version ${b[0]}, expected 1`)
  if (b.length < 2) return MORE
  const ulen = b[1]!
  if (b.length < 3 + ulen) return MORE
  const plen = b[2 + ulen]!
  const end = 3 + ulen + plen
  if (b.length < end) return MORE
  return { kind: 'done', used: end, user: b.subarray(2, 2 + ulen), password: b.subarray(3 + ulen, end) }
}

/** RFC 1929's answer: status 0 is success, anything else failure (and the server closes). */
export function encodeUserPassStatus(ok: boolean): Uint8Array {
  return Uint8Array.of(USERPASS_VERSION, ok ? 0 : 1)
}

export interface SocksAddress {
  type: (typeof AddressType)[keyof typeof AddressType]
  /**
   * IPv4 dotted, IPv6 as eight uncompressed hex groups, or the domain name's bytes as characters
   * (one per byte, unchecked: the caller validates it as a host name).
   */
  host: string
  port: number
}

/** ATYP DST.ADDR DST.PORT at `at`: the address and the offset after it. */
function parseAddress(b: Uint8Array, at: number): { kind: 'more' } | { kind: 'bad'; why: string; reply: number } | { kind: 'done'; address: SocksAddress; end: number } {
  if (b.length < at + 1) return MORE
  const type = b[at]!
  let host: string
  let p: number
  if (type === AddressType.ipv4) {
    p = at + 1 + 4
    if (b.length < p + 2) return MORE
    host = `${b[at + 1]}.${b[at + 2]}.${b[at + 3]}.${b[at + 4]}`
  } else if (type === AddressType.ipv6) {
    p = at + 1 + 16
    if (b.length < p + 2) return MORE
    const groups: string[] = []
    for (let i = 0; i < 8; i++) groups.push(((b[at + 1 + 2 * i]! << 8) | b[at + 2 + 2 * i]!).toString(16))
    host = groups.join(':')
  } else if (type === AddressType.domain) {
    if (b.length < at + 2) return MORE
    const len = b[at + 1]!
    if (len === 0) return { kind: 'bad', why: 'an empty domain name (length 0)', reply: Reply.addressTypeNotSupported }
    p = at + 2 + len
    if (b.length < p + 2) return MORE
    host = String.fromCharCode(...b.subarray(at + 2, p))
  } else {
    return { kind: 'bad', why: `address type ${type} (1 IPv4, 3 domain name, 4 IPv6)`, reply: Reply.addressTypeNotSupported }
  }
  return { kind: 'done', address: { type, host, port: (b[p]! << 8) | b[p + 1]! }, end: p + 2 }
}

/** VER CMD RSV ATYP DST.ADDR DST.PORT. The command is returned whatever it is: the caller answers it. */
export function parseRequest(b: Uint8Array): Parsed<{ command: number; address: SocksAddress }> {
  if (b.length < 1) return MORE
  if (b[0] !== SOCKS_VERSION) return bad(`request version ${b[0]}, expected 5`, Reply.failure)
  if (b.length < 4) return MORE
  const command = b[1]!
  if (command !== Command.connect && command !== Command.bind && command !== Command.udpAssociate) {
    return bad(`command ${command} (1 CONNECT, 2 BIND, 3 UDP ASSOCIATE)`, Reply.commandNotSupported)
  }
  const a = parseAddress(b, 3)
  if (a.kind !== 'done') return a
  return { kind: 'done', used: a.end, command, address: a.address }
}

/** An IPv4 or IPv6 literal (no zone) as ATYP + address bytes; undefined for anything else (a name). */
function addressBytes(host: string): Uint8Array | undefined {
  const v4 = parseIPv4(host)
  if (v4.ok) return Uint8Array.of(AddressType.ipv4, ...v4.value)
  if (!host.includes(':')) return undefined
  const v6 = parseIPv6(host)
  if (!v6.ok) return undefined
  return Uint8Array.of(AddressType.ipv6, ...v6.value.flatMap((g) => [g >> 8, g & 0xff]))
}

/** ATYP ADDR PORT for an address literal or a name (at most 255 bytes of Latin-1; names reach here in IDNA form). */
export { addressBytes as literalAddressBytes }

export function encodeAddress(host: string, port: number): Uint8Array {
  const literal = addressBytes(host)
  if (!literal && host.length > 255) throw new RangeError(`a SOCKS5 name is at most 255 bytes, not ${host.length}`)
  const head = literal ?? Uint8Array.of(AddressType.domain, host.length, ...Array.from(host, (c) => c.charCodeAt(0) & 0xff))
  const out = new Uint8Array(head.length + 2)
  out.set(head)
  out[head.length] = port >> 8
  out[head.length + 1] = port & 0xff
  return out
}

/**
 * VER REP RSV ATYP BND.ADDR BND.PORT. `bound` is the address the server (or the far half) uses:
 * an address literal; absent, 0.0.0.0:0 (RFC 1928 leaves it to the server; failures carry no address).
 */
export function encodeReply(reply: number, bound?: { host: string; port: number }): Uint8Array {
  const addr = bound && addressBytes(bound.host) ? encodeAddress(bound.host, bound.port) : encodeAddress('0.0.0.0', 0)
  const out = new Uint8Array(3 + addr.length)
  out[0] = SOCKS_VERSION
  out[1] = reply
  out.set(addr, 3)
  return out
}

/** A UDP ASSOCIATE datagram's header: RSV(2) FRAG ATYP DST.ADDR DST.PORT, then the data. */
export interface UdpHeader {
  frag: number
  address: SocksAddress
  /** Where the data starts. */
  dataAt: number
}

export function parseUdpHeader(b: Uint8Array): { kind: 'bad'; why: string } | ({ kind: 'done' } & UdpHeader) {
  if (b.length < 4) return { kind: 'bad', why: `a datagram of ${b.length} bytes, shorter than a SOCKS UDP header` }
  if (b[0] !== 0 || b[1] !== 0) return { kind: 'bad', why: 'reserved bytes of the SOCKS UDP header are not zero' }
  const a = parseAddress(b, 3)
  if (a.kind === 'more') return { kind: 'bad', why: 'the datagram ends inside its SOCKS UDP header' }
  if (a.kind === 'bad') return { kind: 'bad', why: a.why }
  return { kind: 'done', frag: b[2]!, address: a.address, dataAt: a.end }
}

/** The header a reply datagram gets before its data: the address it came from (RFC 1928 section 7). */
export function encodeUdpHeader(host: string, port: number): Uint8Array {
  const addr = encodeAddress(host, port)
  const out = new Uint8Array(3 + addr.length)
  out.set(addr, 3)
  return out
}
