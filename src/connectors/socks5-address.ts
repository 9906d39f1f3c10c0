/** A SOCKS5 address (a request's, a UDP datagram's) as the destination text a stream or flow carries. */
import { formatHostPort, parseHostPort } from '../net/endpoint.ts'
import { AddressType, type SocksAddress } from '../protocol/socks5.ts'
import { printable } from './proxy-listener.ts'

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * A request's destination as `host:port` text for the stream's `dst`, or why it is not one. A
 * domain name is checked as a host name here (no ':' or brackets can slip into the text) and sent
 * as a name: the half that dials resolves it.
 */
export function destinationOf(a: SocksAddress): { dst: string; host: string } | { why: string } {
  let text: string
  if (a.type === AddressType.domain) {
    let name = a.host
    if (/[^\x00-\x7f]/.test(name)) {
      try {
        name = utf8.decode(Uint8Array.from(name, (c) => c.charCodeAt(0)))
      } catch {
        return { why: 'a domain name that is not UTF-8' }
      }
    }
    if (/[\s:[\]%/@\\]/.test(name) || name.length > 253 + 1) return { why: `'${printable(name)}' (${name.length} bytes) is not a host name` }
    text = `${name}:${a.port}`
  } else {
    text = a.type === AddressType.ipv6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`
  }
  try {
    const e = parseHostPort(text, { role: 'connect' })
    return { dst: formatHostPort(e), host: e.host }
  } catch (err) {
    return { why: `destination '${printable(text)}': ${(err as Error).message}` }
  }
}
