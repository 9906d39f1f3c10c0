/**
 * Proxy URLs as curl reads them: `[scheme://][user[:password]@]host[:port][/]`, the scheme `http`
 * when left out, user and password percent-decoded (`%40` for '@', `%3A` for ':'), the port 1080
 * when left out. Schemes are those of the registered dialer plugins.
 */
import { RelayError } from '../../base/errors.ts'
import { formatHostPort, parseHostPort } from '../endpoint.ts'
import type { ProxyEndpoint } from './dialer.ts'
import { defaultPortOf, dialerSchemes } from './registry.ts'

/** Kinds curl knows that no plugin here serves, with what to use instead. */
const UNSUPPORTED: Record<string, string> = {
  https: 'TLS to the proxy itself (https://) is not supported; use an http:// proxy (the tunnel inside is still TLS for tls/, wss:// and grpc with tls)',
  socks4: 'SOCKS4 is not supported; use socks5:// (names resolved here) or socks5h:// (names resolved by the proxy)',
  socks4a: 'SOCKS4a is not supported; use socks5h://',
  socks: 'SOCKS4 is not supported; use socks5:// or socks5h://',
}

/** Credentials given apart from the URL (a file, an environment variable), for a URL that has none. */
export interface ProxyCredentials {
  user: string
  password: string
}

/** Parses a proxy URL; `source` names where it came from in messages (`--proxy`, `HTTPS_PROXY`). */
export function parseProxyUrl(value: string, source: string, fallback?: ProxyCredentials): ProxyEndpoint {
  const fail = (why: string): never => {
    throw new RelayError('E_CONFIG', `${source} '${redact(value)}': ${why}`)
  }
  const text = value.trim()
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s.exec(text)
  const scheme = (m?.[1] ?? 'http').toLowerCase()
  let rest = m ? m[2]! : text
  if (UNSUPPORTED[scheme]) fail(UNSUPPORTED[scheme])
  const defaultPort = defaultPortOf(scheme)
  if (defaultPort === undefined) fail(`unknown proxy scheme '${scheme}://' (known: ${dialerSchemes().map((s) => `${s}://`).join(', ')})`)
  if (rest.endsWith('/')) rest = rest.slice(0, -1)
  if (/[/?#]/.test(rest)) fail('a proxy URL has no path, query or fragment (write scheme://[user:password@]host:port)')
  const at = rest.lastIndexOf('@')
  let user: string | undefined
  let password: string | undefined
  if (at >= 0) {
    const info = rest.slice(0, at)
    rest = rest.slice(at + 1)
    const colon = info.indexOf(':')
    user = decode(colon < 0 ? info : info.slice(0, colon), fail)
    password = colon < 0 ? '' : decode(info.slice(colon + 1), fail)
    if (user === '') fail('an empty user name before @')
  }
  if (rest === '') fail('no proxy host')
  let endpoint
  try {
    endpoint = parseHostPort(rest, { role: 'connect', defaultPort })
  } catch (err) {
    return fail((err as Error).message.split('\n')[0]!)
  }
  if (Object.keys(endpoint.options).length > 0 || endpoint.iface !== undefined || endpoint.zone !== undefined) fail('a proxy is host:port only')
  if (user === undefined && fallback) {
    user = fallback.user
    password = fallback.password
  }
  const shown = `${scheme}://${user !== undefined ? `${encodeURIComponent(user)}@` : ''}${formatHostPort(endpoint)}`
  return { scheme, host: endpoint.host, port: endpoint.port, ...(user !== undefined ? { user, password: password ?? '' } : {}), text: shown, source }
}

function decode(text: string, fail: (why: string) => never): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return fail('a bad %-escape in the user or password')
  }
}

/** The URL with any password replaced by `***`, for messages. */
export function redact(value: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)?(.*)$/s.exec(value)!
  const rest = m[2]!
  const at = rest.lastIndexOf('@')
  const colon = rest.indexOf(':')
  if (at < 0 || colon < 0 || colon > at) return value
  return `${m[1] ?? ''}${rest.slice(0, colon)}:***${rest.slice(at)}`
}
