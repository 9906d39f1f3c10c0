/**
 * SOCKS5 (RFC 1928) CONNECT, with username/password authentication (RFC 1929) offered when the
 * URL or the half has credentials. `socks5h://` sends names for the proxy to resolve;
 * `socks5://` resolves them here (the first address the resolver gives) and sends the address.
 */
import type { StreamConn } from '../../ports/runtime.ts'
import { AddressType, encodeAddress, literalAddressBytes, Method } from '../../protocol/socks5.ts'
import { type DialerPlugin, ProxyError, type ProxyOpen, targetText } from './dialer.ts'
import { ProxyExchange } from './exchange.ts'

const NO_AUTH = Method.noAuth
const USER_PASSWORD = Method.userPass
const NO_ACCEPTABLE = Method.noneAcceptable

/** Reply codes (RFC 1928 §6) in words, and whether they mean "not allowed" or "not reachable". */
const REPLIES: Record<number, [string, 'E_PROXY_REFUSED' | 'E_PROXY_UPSTREAM']> = {
  0x01: ['general SOCKS server failure', 'E_PROXY_UPSTREAM'],
  0x02: ['connection not allowed by ruleset', 'E_PROXY_REFUSED'],
  0x03: ['network unreachable', 'E_PROXY_UPSTREAM'],
  0x04: ['host unreachable', 'E_PROXY_UPSTREAM'],
  0x05: ['connection refused', 'E_PROXY_UPSTREAM'],
  0x06: ['TTL expired', 'E_PROXY_UPSTREAM'],
  0x07: ['command not supported', 'E_PROXY_REFUSED'],
  0x08: ['address type not supported', 'E_PROXY_REFUSED'],
}

const encoder = new TextEncoder()

async function open(o: ProxyOpen): Promise<StreamConn> {
  const who = `the SOCKS5 proxy ${o.proxy.text} (${o.proxy.source})`
  const target = targetText(o.target)
  let host = o.target.host
  if (o.proxy.scheme === 'socks5' && !literalAddressBytes(host)) host = (await o.resolve(host))[0]!.address
  if (!literalAddressBytes(host) && encoder.encode(host).length > 255) throw new ProxyError('E_PROXY_REFUSED', `${target}: a name longer than 255 bytes cannot go through SOCKS5`)
  const credentials = o.proxy.user !== undefined ? { user: encoder.encode(o.proxy.user), password: encoder.encode(o.proxy.password ?? '') } : undefined
  // Checked when the URL was read too; here for plugins' callers that build endpoints themselves.
  if (credentials && (credentials.user.length > 255 || credentials.password.length > 255)) throw new ProxyError('E_PROXY_AUTH', `${who}: SOCKS5 user names and passwords are at most 255 bytes`)

  const x = new ProxyExchange(o.conn, o.signal, who)
  x.write(new Uint8Array(credentials ? [5, 2, NO_AUTH, USER_PASSWORD] : [5, 1, NO_AUTH]))
  const [version, method] = await x.read(2)
  if (version !== 5) return x.abandon(new ProxyError('E_PROXY_PROTOCOL', `${who} is not a SOCKS5 proxy (it answered with version ${version})`))
  if (method === NO_ACCEPTABLE || (method !== NO_AUTH && (method !== USER_PASSWORD || !credentials))) {
    const why = credentials ? 'it accepts neither no authentication nor a user name and password' : 'it needs authentication: put a user name and password in the proxy URL (socks5://user:password@host:port), in a --proxy-user-file or in EDGERELAY_PROXY_USER'
    return x.abandon(new ProxyError('E_PROXY_AUTH', `${who} refused us: ${why}`))
  }
  if (method === USER_PASSWORD) {
    x.write(new Uint8Array([1, credentials!.user.length, ...credentials!.user, credentials!.password.length, ...credentials!.password]))
    const [, status] = await x.read(2)
    if (status !== 0) return x.abandon(new ProxyError('E_PROXY_AUTH', `${who} did not accept the user '${o.proxy.user}' with that password`))
  }
  x.write(Uint8Array.of(5, 1, 0, ...encodeAddress(host, o.target.port)))
  const [v, reply, , atyp] = await x.read(4)
  if (v !== 5) return x.abandon(new ProxyError('E_PROXY_PROTOCOL', `${who} answered CONNECT with version ${v}, not 5`))
  if (reply !== 0) {
    const [words, code] = REPLIES[reply!] ?? [`reply ${reply}`, 'E_PROXY_REFUSED']
    const via = host !== o.target.host ? ` (${host})` : ''
    return x.abandon(new ProxyError(code, `${who} could not connect to ${target}${via}: ${words} (SOCKS5 reply ${reply})`))
  }
  // The address the proxy bound, which we do not need: its length depends on its type.
  const rest = atyp === AddressType.ipv4 ? 6 : atyp === AddressType.ipv6 ? 18 : atyp === AddressType.domain ? 1 + (await x.read(1))[0]! + 2 : -1
  if (rest < 0) return x.abandon(new ProxyError('E_PROXY_PROTOCOL', `${who} answered with an unknown address type ${atyp}`))
  await x.read(atyp === AddressType.domain ? rest - 1 : rest)
  return x.handOver()
}

export const socks5Dialer: DialerPlugin = { schemes: ['socks5', 'socks5h'], title: 'SOCKS5 proxy', defaultPort: 1080, open }
