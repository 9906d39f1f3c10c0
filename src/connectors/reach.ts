/**
 * How a tunnel client reaches its server: straight to the server's resolved addresses (the
 * transport's own race, TLS included), or through the proxy that --proxy or the environment
 * names for its carrier (src/net/dialers/), with TLS, when the carrier has it, run through the
 * proxy's connection to the server. The choice is made once, when the connector is created, so a
 * proxy URL that cannot be used is a configuration error at start.
 */
import { RelayError } from '../base/errors.ts'
import type { HalfContext } from '../core/connector.ts'
import { raceTcp } from '../net/dial.ts'
import type { ProxyScheme } from '../net/dialers/proxy-choice.ts'
import { socketOf } from '../net/dialers/held-conn.ts'
import { dialThroughProxy } from '../net/dialers/through-proxy.ts'
import type { Endpoint } from '../net/endpoint.ts'
import { resolveConnect } from '../net/resolve.ts'
import type { ResolvedAddress, StreamConn, TlsClientOptions } from '../ports/runtime.ts'

type Race = (addresses: ResolvedAddress[], port: number, signal: AbortSignal, text: string) => Promise<StreamConn>

export interface ReachOptions {
  /** Whose proxy variables apply (src/net/dialers/proxy-choice.ts); undefined: ALL_PROXY only. */
  scheme?: ProxyScheme
  /** The connection without a proxy, to the server's resolved addresses. */
  direct(addresses: ResolvedAddress[], port: number, signal: AbortSignal): Promise<StreamConn>
  /** TLS to run through the proxy once it has connected (tls/, wss://, grpc with tls, xmpp). */
  tls?: TlsClientOptions
  /** The plain TCP race to the proxy; default: to its addresses with no local bind. */
  connect?: Race
}

/** Opens one connection to the server of `endpoint`, as `o` and the half's proxy settings say. */
export function tunnelReach(ctx: HalfContext, name: string, text: string, endpoint: Endpoint, o: ReachOptions): (signal: AbortSignal) => Promise<StreamConn> {
  const rt = ctx.runtime
  const { family, connectTimeoutMs } = ctx.options
  const log = ctx.logger.child(name)
  const chosen = ctx.options.proxy?.choose(o.scheme, endpoint.host)
  const proxy = chosen?.proxy
  if (!proxy) {
    if (chosen && chosen.why !== 'no proxy configured') log.info(`connecting to ${text} directly (${chosen.why})`)
    return async (signal) => o.direct(await resolveConnect(rt, endpoint, text, family), endpoint.port, signal)
  }
  const startTls = o.tls && rt.capabilities.startTls && rt.startTls ? rt.startTls.bind(rt) : undefined
  if (o.tls && !startTls) throw new RelayError('E_UNSUPPORTED_ON_RUNTIME', `${text}: the ${rt.name} runtime cannot run TLS over a proxy's connection; reach the server directly (--proxy '')`)
  log.info(`reaching ${text} through ${proxy.text} (${proxy.source})`)
  const connect: Race = o.connect ?? ((addresses, port, signal, raceText) => raceTcp(rt, raceText, addresses, port, { timeoutMs: connectTimeoutMs, signal }))
  const target = { host: endpoint.zone ? `${endpoint.host}%${endpoint.zone}` : endpoint.host, port: endpoint.port }
  return async (signal) => {
    const conn = await dialThroughProxy(rt, { text, proxy, target, connect, timeoutMs: connectTimeoutMs, signal, family })
    if (!o.tls) return conn
    const raw = socketOf(conn)
    if (!raw) {
      conn.destroy()
      throw new RelayError('E_PROXY_PROTOCOL', `${text}: bytes arrived through ${proxy.text} before the TLS handshake began (a TLS server never speaks first)`)
    }
    const abort = () => raw.destroy()
    signal.addEventListener('abort', abort, { once: true })
    try {
      return await startTls!(raw, { side: 'client', tls: o.tls })
    } catch (err) {
      throw new RelayError('E_TLS_HANDSHAKE', `${text}: TLS with the server through ${proxy.text}: ${(err as Error).message}`, { cause: err })
    } finally {
      signal.removeEventListener('abort', abort)
    }
  }
}
