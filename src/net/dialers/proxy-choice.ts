/**
 * Which proxy a tunnel client uses: `--proxy` for every carrier, else the environment variables
 * curl would read for the URL scheme of the carrier (docs in README.md#proxies), unless NO_PROXY
 * (or `--noproxy`, which replaces it) lists the server's host. Variables are looked up lower case
 * first; `http_proxy` only in lower case (an HTTP_PROXY variable can be set by a CGI request);
 * an empty variable counts as unset.
 */
import { RelayError } from '../../base/errors.ts'
import type { ProxyEndpoint } from './dialer.ts'
import { noProxyMatches } from './no-proxy.ts'
import { parseProxyUrl, type ProxyCredentials } from './proxy-url.ts'

/** What a half is told about proxies (HalfSettings.proxy). */
export interface ProxySettings {
  /**
   * A proxy URL for every tunnel client of the half (`http://[user:password@]host:port`,
   * `socks5://`, `socks5h://`); it replaces the environment's. `''`: no proxy at all.
   */
  url?: string
  /** The environment whose proxy variables apply when `url` is not given (the CLI passes its own). */
  env?: Readonly<Record<string, string | undefined>>
  /** Hosts reached directly, replacing NO_PROXY / no_proxy (curl's --noproxy). */
  noProxy?: string
  /** Credentials for a proxy whose URL has none (CLI: --proxy-user-file, EDGERELAY_PROXY_USER). */
  credentials?: ProxyCredentials
}

/**
 * The URL scheme whose variables apply: `ws`, `wss`, `http` (grpc), `https` (grpc with tls);
 * undefined for carriers curl has no scheme for (tcp, tls, zmq, xmpp): ALL_PROXY only.
 */
export type ProxyScheme = 'http' | 'https' | 'ws' | 'wss'

/** The variables looked up for a scheme, first set wins (curl's order). */
export function proxyVariables(scheme: ProxyScheme | undefined): string[] {
  const all = ['all_proxy', 'ALL_PROXY']
  switch (scheme) {
    case 'http':
      return ['http_proxy', ...all]
    case 'https':
      return ['https_proxy', 'HTTPS_PROXY', ...all]
    case 'ws':
      return ['ws_proxy', 'WS_PROXY', 'http_proxy', ...all]
    case 'wss':
      return ['wss_proxy', 'WSS_PROXY', 'https_proxy', 'HTTPS_PROXY', ...all]
    default:
      return all
  }
}

export class ProxyPolicy {
  private readonly settings: ProxySettings

  constructor(settings: ProxySettings) {
    this.settings = settings
    // A --proxy that cannot be used is a mistake to report at start, whatever the connectors.
    if (settings.url) parseProxyUrl(settings.url, '--proxy', settings.credentials)
    if (settings.credentials && settings.url === '') throw new RelayError('E_CONFIG', 'proxy credentials were given, but --proxy \'\' turns proxies off')
  }

  /** NO_PROXY as it applies: --noproxy, else no_proxy, else NO_PROXY. */
  private get noProxy(): { list: string | undefined; source: string } {
    if (this.settings.noProxy !== undefined) return { list: this.settings.noProxy, source: '--noproxy' }
    const env = this.settings.env ?? {}
    if (env.no_proxy) return { list: env.no_proxy, source: 'no_proxy' }
    return { list: env.NO_PROXY || undefined, source: 'NO_PROXY' }
  }

  /**
   * The proxy for a carrier of `scheme` going to `host` (as written), or undefined to go
   * directly; `why` says which setting decided, for the log. A value that is not a proxy URL is
   * E_CONFIG naming its variable.
   */
  choose(scheme: ProxyScheme | undefined, host: string): { proxy?: ProxyEndpoint; why: string } {
    const { url, env = {}, credentials } = this.settings
    if (url === '') return { why: "--proxy ''" }
    let value = url
    let source = '--proxy'
    if (value === undefined) {
      for (const name of proxyVariables(scheme)) {
        if (env[name]) {
          value = env[name]
          source = name
          break
        }
      }
    }
    if (value === undefined) return { why: 'no proxy configured' }
    const bypass = this.noProxy
    if (noProxyMatches(bypass.list, host)) return { why: `${bypass.source} lists ${host}` }
    return { proxy: parseProxyUrl(value, source, credentials), why: source }
  }
}
