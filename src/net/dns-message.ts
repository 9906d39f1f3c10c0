/**
 * DNS messages (RFC 1035) for the `--resolver host:port` stub: one A or AAAA question out, the
 * addresses of the answer back. Pure byte work; a reply whose id or question differ from the query
 * is not ours (returns undefined), a reply that is ours but cannot be parsed throws E_DNS_MALFORMED.
 */
import { RelayError } from '../base/errors.ts'
import type { Family } from '../base/address.ts'
import { formatIPv6 } from '../base/ip.ts'

const TYPE = { 4: 1, 6: 28 } as const
const CLASS_IN = 1
const encoder = new TextEncoder()

/** A query for `name`'s A (family 4) or AAAA (6) records, recursion desired. */
export function encodeQuery(id: number, name: string, family: Family): Uint8Array {
  const labels = name.replace(/\.$/, '').split('.')
  const parts: number[] = []
  for (const label of labels) {
    const bytes = encoder.encode(label)
    if (bytes.length === 0 || bytes.length > 63) throw new RelayError('E_RESOLVE', `'${name}' is not a valid DNS name (label '${label}')`)
    parts.push(bytes.length, ...bytes)
  }
  if (parts.length + 1 > 255) throw new RelayError('E_RESOLVE', `'${name}' is longer than a DNS name may be`)
  const out = new Uint8Array(12 + parts.length + 1 + 4)
  const view = new DataView(out.buffer)
  view.setUint16(0, id)
  view.setUint16(2, 0x0100) // RD
  view.setUint16(4, 1)
  out.set(parts, 12)
  view.setUint16(12 + parts.length + 1, TYPE[family])
  view.setUint16(12 + parts.length + 3, CLASS_IN)
  return out
}

export interface DnsAnswer {
  /** RCODE: 0 no error, 3 no such name, ... */
  rcode: number
  /** TC: the answer did not fit a UDP datagram; ask again over TCP. */
  truncated: boolean
  addresses: string[]
}

const malformed = (what: string) => new RelayError('E_DNS_MALFORMED', `malformed DNS reply: ${what}`)

/** Reads a (possibly compressed) name at `off`; returns it lower-cased and where the record goes on. */
function readName(msg: Uint8Array, off: number): { name: string; next: number } {
  const labels: string[] = []
  let next = -1
  let jumps = 0
  for (;;) {
    const len = msg[off]
    if (len === undefined) throw malformed('name runs past the end')
    if ((len & 0xc0) === 0xc0) {
      if (off + 1 >= msg.length) throw malformed('name pointer runs past the end')
      if (++jumps > 32) throw malformed('name pointer loop')
      if (next < 0) next = off + 2
      off = ((len & 0x3f) << 8) | msg[off + 1]!
      continue
    }
    if (len & 0xc0) throw malformed(`label type 0x${len.toString(16)}`)
    if (len === 0) break
    if (off + 1 + len > msg.length) throw malformed('label runs past the end')
    labels.push(String.fromCharCode(...msg.subarray(off + 1, off + 1 + len)).toLowerCase())
    off += 1 + len
  }
  return { name: labels.join('.'), next: next < 0 ? off + 1 : next }
}

/** Parses the reply to `query`, or undefined when it answers another query (id or question differ). */
export function parseReply(msg: Uint8Array, id: number, name: string, family: Family): DnsAnswer | undefined {
  if (msg.length < 12) return undefined
  const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength)
  const flags = view.getUint16(2)
  if (view.getUint16(0) !== id || (flags & 0x8000) === 0 || view.getUint16(4) !== 1) return undefined
  let q: { name: string; next: number }
  try {
    q = readName(msg, 12)
  } catch {
    return undefined
  }
  if (q.next + 4 > msg.length) return undefined
  const type = TYPE[family]
  if (q.name !== name.replace(/\.$/, '').toLowerCase() || view.getUint16(q.next) !== type || view.getUint16(q.next + 2) !== CLASS_IN) return undefined
  const answer: DnsAnswer = { rcode: flags & 0xf, truncated: (flags & 0x0200) !== 0, addresses: [] }
  let off = q.next + 4
  for (let i = view.getUint16(6); i > 0; i--) {
    off = readName(msg, off).next
    if (off + 10 > msg.length) throw malformed('record header runs past the end')
    const rtype = view.getUint16(off)
    const rclass = view.getUint16(off + 2)
    const rdlength = view.getUint16(off + 8)
    const rdata = off + 10
    if (rdata + rdlength > msg.length) throw malformed('record data runs past the end')
    if (rclass === CLASS_IN && rtype === type) {
      if (rdlength !== (family === 4 ? 4 : 16)) throw malformed(`${family === 4 ? 'A' : 'AAAA'} record of ${rdlength} bytes`)
      const data = msg.subarray(rdata, rdata + rdlength)
      answer.addresses.push(family === 4 ? data.join('.') : formatIPv6(Array.from({ length: 8 }, (_, g) => (data[2 * g]! << 8) | data[2 * g + 1]!)))
    }
    off = rdata + rdlength
  }
  return answer
}
