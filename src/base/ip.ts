/**
 * IP literal checks (docs/addresses.md P2, P3, P4, P8) and RFC 5952 text form. Pure: no resolver,
 * no runtime API, so that a literal the OS would read differently never reaches getaddrinfo.
 */
import { type Checked, unexpected } from './scan.ts'

const DECIMAL = /^[0-9]+$/
const HEX = /^[0-9a-fA-F]$/

function reject(index: number, message: string): { ok: false; index: number; message: string } {
  return { ok: false, index, message }
}

/**
 * Parses a strict dotted quad: exactly 4 decimal numbers 0–255 without leading zeros (P2).
 * `127.1`, `0x7f.0.0.1` and `010.0.0.1` are rejected because inet_aton would read them as
 * something else than most people expect.
 */
export function parseIPv4(text: string): Checked<number[]> {
  const parts = text.split('.')
  const octets: number[] = []
  let at = 0
  for (const [n, part] of parts.entries()) {
    if (part === '') {
      if (n === parts.length - 1 && n > 0) return reject(at - 1, 'an IPv4 address cannot end with a dot')
      return reject(at, 'empty number in IPv4 address')
    }
    if (/^0[xX]/.test(part)) return reject(at, `hexadecimal '${part}' is not allowed in an IPv4 address`)
    if (!DECIMAL.test(part)) {
      const bad = part.search(/[^0-9]/)
      return reject(at + bad, `invalid IPv4 address: ${unexpected(part, bad)}`)
    }
    if (part.length > 1 && part[0] === '0') {
      return reject(at, `leading zero in '${part}' is not allowed in an IPv4 address (it would be read as octal)`)
    }
    const value = Number(part)
    if (value > 255) return reject(at, `${part} is greater than 255`)
    octets.push(value)
    at += part.length + 1
  }
  if (parts.length > 4) {
    const fourthDot = parts.slice(0, 4).join('.').length
    return reject(fourthDot, `an IPv4 address has 4 numbers, '${text}' has ${parts.length}`)
  }
  if (parts.length < 4) {
    return reject(0, `an IPv4 address has 4 numbers, '${text}' has ${parts.length} (shorthand like 127.1 is not allowed)`)
  }
  return { ok: true, value: octets }
}

/**
 * Parses an IPv6 address without brackets or zone into its 8 16-bit groups (RFC 4291 §2.2,
 * including a trailing dotted quad). Indexes in a rejection point at the offending character.
 */
export function parseIPv6(text: string): Checked<number[]> {
  if (text === '') return reject(0, 'empty IPv6 address')
  const groups: number[] = []
  let gap = -1
  let i = 0
  if (text.startsWith('::')) {
    gap = 0
    i = 2
  } else if (text[0] === ':') {
    return reject(0, "an IPv6 address cannot start with a single ':'")
  }
  while (i < text.length) {
    if (groups.length === 8) return reject(i, 'an IPv6 address has at most 8 groups')
    let j = i
    while (j < text.length && HEX.test(text[j] ?? '')) j++
    if (text[j] === '.') {
      // A trailing dotted quad fills the last 32 bits.
      const v4 = parseIPv4(text.slice(i))
      if (!v4.ok) return reject(i + v4.index, v4.message)
      if (groups.length > (gap >= 0 ? 5 : 6)) return reject(i, 'too many groups before the IPv4 part')
      const [a = 0, b = 0, c = 0, d = 0] = v4.value
      groups.push((a << 8) | b, (c << 8) | d)
      i = text.length
      break
    }
    if (j === i) return reject(i, `invalid IPv6 address: ${unexpected(text, i)}`)
    if (j - i > 4) return reject(i + 4, 'a group of an IPv6 address has at most 4 hex digits')
    groups.push(parseInt(text.slice(i, j), 16))
    i = j
    if (i === text.length) break
    if (text[i] !== ':') return reject(i, `invalid IPv6 address: ${unexpected(text, i)}`)
    i++
    if (text[i] === ':') {
      if (gap >= 0) return reject(i, "'::' may appear only once in an IPv6 address")
      gap = groups.length
      i++
    } else if (i === text.length) {
      return reject(i - 1, "an IPv6 address cannot end with a single ':'")
    }
  }
  if (gap >= 0) {
    if (groups.length > 7) return reject(text.indexOf('::'), "'::' must stand for at least one group")
    groups.splice(gap, 0, ...new Array<number>(8 - groups.length).fill(0))
  } else if (groups.length < 8) {
    return reject(text.length, `an IPv6 address has 8 groups (or '::'), this one has ${groups.length}`)
  }
  return { ok: true, value: groups }
}

/** RFC 5952 text: lowercase, no leading zeros, the longest run (≥2) of zero groups as `::`. */
export function formatIPv6(groups: readonly number[]): string {
  let best = -1
  let bestLen = 1
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLen) {
      best = i
      bestLen = j - i
    }
    i = j
  }
  const hex = (g: readonly number[]) => g.map((n) => n.toString(16)).join(':')
  if (best < 0) return hex(groups)
  return `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLen))}`
}

/** fe80::/10: unicast link-local, meaningless without an interface (P4). */
export function isLinkLocal(groups: readonly number[]): boolean {
  return ((groups[0] ?? 0) & 0xffc0) === 0xfe80
}

/** The scope nibble of a multicast address (ffXs::), or undefined if not multicast. */
export function multicastScope(groups: readonly number[]): number | undefined {
  const first = groups[0] ?? 0
  return first >> 8 === 0xff ? first & 0xf : undefined
}

/** Addresses that name a different host on every link, so they need a zone (P4). */
export function needsZone(groups: readonly number[]): boolean {
  const scope = multicastScope(groups)
  return isLinkLocal(groups) || (scope !== undefined && scope <= 2)
}

/** The dotted quad of a v4-mapped address (::ffff:a.b.c.d), or undefined (P8). */
export function v4Mapped(groups: readonly number[]): string | undefined {
  if (groups.slice(0, 5).some((g) => g !== 0) || groups[5] !== 0xffff) return undefined
  const [hi = 0, lo = 0] = groups.slice(6)
  return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join('.')
}

/**
 * WHATWG URL's "ends in a number": a host whose last label is decimal or 0x-hex is an IPv4
 * attempt, so it is checked as one (P2) rather than as a host name the resolver would misread.
 */
export function endsInNumber(host: string): boolean {
  const labels = host.split('.')
  if (labels.at(-1) === '' && labels.length > 1) labels.pop()
  const last = labels.at(-1) ?? ''
  return (last !== '' && DECIMAL.test(last)) || /^0[xX][0-9a-fA-F]*$/.test(last)
}
