/**
 * What every proxy kind shares: the proxy's name resolved with the half's resolver and family,
 * the Happy Eyeballs race to its addresses, the plugin's exchange, and one time limit over all
 * of it. Errors name the proxy, where it was configured and the destination.
 */
import { RelayError } from '../../base/errors.ts'
import type { Family, ResolvedAddress, Runtime, StreamConn } from '../../ports/runtime.ts'
import { parseHostPort } from '../endpoint.ts'
import { resolveConnect } from '../resolve.ts'
import { type DialerPlugin, ProxyError, type ProxyEndpoint, type ProxyTarget, targetText } from './dialer.ts'
import { dialerFor } from './registry.ts'

export interface ProxyDialOptions {
  /** The connector, for messages. */
  text: string
  proxy: ProxyEndpoint
  target: ProxyTarget
  /** Races TCP connections to the proxy's addresses (the connector's own race: bind=, attempt-delay=). */
  connect(addresses: ResolvedAddress[], port: number, signal: AbortSignal, text: string): Promise<StreamConn>
  /** For reaching the proxy and then the destination through it. */
  timeoutMs: number
  signal: AbortSignal
  family?: Family
}

/** A connection to `o.target` through `o.proxy`, ready for the tunnel's own handshake. */
export async function dialThroughProxy(rt: Runtime, o: ProxyDialOptions): Promise<StreamConn> {
  const plugin = await dialerFor(o.proxy.scheme)
  const text = `${o.text} via ${plugin.title} ${o.proxy.text}`
  // A timer of our own rather than AbortSignal.timeout(): nothing may collect it before it fires.
  const deadline = new AbortController()
  const timer = setTimeout(() => deadline.abort(new ProxyError('E_PROXY_TIMEOUT', `${text}: no connection to ${targetText(o.target)} within ${o.timeoutMs} ms`)), o.timeoutMs)
  const limit = AbortSignal.any([o.signal, deadline.signal])
  try {
    return await reach(rt, o, text, plugin, limit)
  } finally {
    clearTimeout(timer)
  }
}

async function reach(rt: Runtime, o: ProxyDialOptions, text: string, plugin: DialerPlugin, limit: AbortSignal): Promise<StreamConn> {
  const endpoint = parseHostPort(o.proxy.host.includes(':') ? `[${o.proxy.host}]:${o.proxy.port}` : `${o.proxy.host}:${o.proxy.port}`, { role: 'connect' })
  const addresses = await resolveConnect(rt, endpoint, text, o.family)
  const conn = await o.connect(addresses, o.proxy.port, limit, text)
  try {
    return await plugin.open({
      conn,
      proxy: o.proxy,
      target: o.target,
      signal: limit,
      resolve: (host) => resolveConnect(rt, parseHostPort(`${host}:${o.target.port}`, { role: 'connect' }), `${o.text} (resolving ${host} for ${o.proxy.text})`, o.family),
    })
  } catch (err) {
    conn.destroy()
    if (o.signal.aborted) throw new RelayError('E_CANCELLED', `${text}: cancelled`, { cause: err })
    if (limit.aborted && !(err instanceof ProxyError && err.code !== 'E_PROXY_TIMEOUT')) {
      throw new ProxyError('E_PROXY_TIMEOUT', `${o.text}: ${plugin.title} ${o.proxy.text} (${o.proxy.source}) did not open a connection to ${targetText(o.target)} within ${o.timeoutMs} ms`, { cause: err })
    }
    if (err instanceof ProxyError) throw new ProxyError(err.code, `${o.text}: ${err.message}`, { cause: err })
    throw err
  }
}
