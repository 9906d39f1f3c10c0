/**
 * Dialer plugins: how a tunnel client reaches its server through something in between (an HTTP
 * proxy with CONNECT, a SOCKS5 proxy; an ssh jump host would be one more). Each kind is one file
 * that implements DialerPlugin and is listed in ./registry.ts; ./through-proxy.ts does the part
 * every kind shares (resolving the proxy, the Happy Eyeballs race to it, the time limit, the
 * messages). Plugins see a connection to the proxy and hand back one to the destination.
 */
import type { ResolvedAddress, StreamConn } from '../../ports/runtime.ts'
import { RelayError } from '../../base/errors.ts'

/** A proxy as configured (`--proxy`, `HTTPS_PROXY`, ...), parsed by ./proxy-url.ts. */
export interface ProxyEndpoint {
  /** Lowercase URL scheme: `http`, `socks5`, `socks5h`. */
  scheme: string
  /** Name or address literal (IPv6 without brackets). */
  host: string
  port: number
  user?: string
  password?: string
  /** The URL for messages: scheme, user and host, never the password. */
  text: string
  /** Where it was configured: `--proxy`, `HTTPS_PROXY`. */
  source: string
}

/** Where the tunnel client wants to go: the host as written in its connector (a name, or a literal). */
export interface ProxyTarget {
  host: string
  port: number
}

/** What a plugin is given for one connection. */
export interface ProxyOpen {
  /** A connection to the proxy, nothing sent yet. */
  conn: StreamConn
  proxy: ProxyEndpoint
  target: ProxyTarget
  /** Aborted when the time for reaching the destination is up or the dial is cancelled. */
  signal: AbortSignal
  /** Resolves a name here, with the half's resolver and --ipv4/--ipv6 (for proxies that take addresses only). */
  resolve(host: string): Promise<ResolvedAddress[]>
}

export interface DialerPlugin {
  /** URL schemes it serves (`socks5`, `socks5h`). */
  readonly schemes: readonly string[]
  /** What to call it in messages (`HTTP proxy`). */
  readonly title: string
  /** Port when the URL names none. */
  readonly defaultPort: number
  /**
   * Asks the proxy on `o.conn` for a connection to `o.target`. Resolves, once the proxy said yes,
   * with the connection to carry the tunnel on (usually `o.conn` through ProxyExchange.handOver,
   * which keeps bytes the server sent early); rejects with a ProxyError otherwise.
   */
  open(o: ProxyOpen): Promise<StreamConn>
}

/**
 * Why a proxy did not lead to the destination. Codes: E_PROXY_AUTH (credentials missing or
 * refused), E_PROXY_REFUSED (its rules do not allow the destination), E_PROXY_UPSTREAM (it could
 * not reach the destination), E_PROXY_PROTOCOL (it does not speak the protocol of its URL),
 * E_PROXY_TIMEOUT, E_PROXY_CLOSED.
 */
export type ProxyErrorCode = 'E_PROXY_AUTH' | 'E_PROXY_REFUSED' | 'E_PROXY_UPSTREAM' | 'E_PROXY_PROTOCOL' | 'E_PROXY_TIMEOUT' | 'E_PROXY_CLOSED'

export class ProxyError extends RelayError {
  declare readonly code: ProxyErrorCode
  constructor(code: ProxyErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
    this.name = 'ProxyError'
  }
}

/** `host:port` as a proxy request names it (IPv6 in brackets). */
export function targetText(t: ProxyTarget): string {
  return `${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`
}
