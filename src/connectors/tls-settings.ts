/**
 * TLS as the HTTP-based and message carriers use it (ws, grpc, http, xmpp): the server material
 * from the half's options, and a first hop that dials the remote's addresses, through TLS when asked.
 */
import { RelayError } from '../base/errors.ts'
import type { HalfContext } from '../core/connector.ts'
import { dialFrom } from '../net/dial-from.ts'
import type { HttpTlsOptions } from '../ports/http.ts'
import type { ResolvedAddress, Runtime, StreamConn, TlsClientOptions } from '../ports/runtime.ts'
import type { Endpoint } from '../net/endpoint.ts'
import type { ProxyScheme } from '../net/dialers/proxy-choice.ts'
import { tunnelReach } from './reach.ts'

/** TLS server material from the half's options (ws/server or grpc/server with --cert/--key → wss, h2 over TLS). */
export function httpTlsOf(ctx: HalfContext): HttpTlsOptions | undefined {
  const m = ctx.options.tls
  if (!m?.cert || !m.key) return undefined
  return { cert: m.cert, key: m.key, ca: m.clientAuth ? m.caCert : undefined, requestCert: m.clientAuth ?? false }
}

/** A runtime whose connectTcp dials TLS (for the race in the address layer). */
export function tlsDialer(ctx: HalfContext, text: string, servername: string | undefined, alpn?: string[]): Runtime {
  const rt = ctx.runtime
  if (!rt.connectTls) throw new RelayError('E_CONFIG', `${text}: TLS is not available on the ${rt.name} runtime`)
  const tls = tlsClientOf(ctx, servername, alpn)
  const connectTls = rt.connectTls.bind(rt)
  return { ...rt, connectTcp: (o) => connectTls({ ...o, tls, connectTimeoutMs: ctx.options.connectTimeoutMs }) }
}

/** A TLS client's settings from the half's --ca-cert, --cert and --key, checked against `servername`. */
export function tlsClientOf(ctx: HalfContext, servername: string | undefined, alpn?: string[]): TlsClientOptions {
  const m = ctx.options.tls ?? {}
  return { ca: m.caCert, cert: m.cert, key: m.key, servername, handshakeTimeoutMs: ctx.options.helloTimeoutMs, ...(alpn ? { alpn } : {}) }
}

/**
 * The connection a carrier runs on: directly, the first of the server's addresses that connects,
 * plain or through TLS checked against `servername` (then the limit covers the handshake too);
 * or through the proxy the half's settings name for `scheme` (./reach.ts), TLS run through it.
 */
export function firstHop(ctx: HalfContext, name: string, text: string, endpoint: Endpoint, opts: { tls: boolean; servername?: string; alpn?: string[]; scheme?: ProxyScheme }): (signal: AbortSignal) => Promise<StreamConn> {
  // The name the certificate must carry: as given, else the host as written (never what a name resolved to).
  const servername = opts.servername ?? (endpoint.hostKind !== 'wildcard' ? endpoint.host : undefined)
  const dialer = opts.tls ? tlsDialer(ctx, text, servername, opts.alpn) : ctx.runtime
  const { connectTimeoutMs, helloTimeoutMs } = ctx.options
  const limit = connectTimeoutMs + (opts.tls ? helloTimeoutMs : 0)
  const warn = warnOnce(ctx, name)
  return tunnelReach(ctx, name, text, endpoint, {
    scheme: opts.scheme,
    // From the interface of the `::eth0:` prefix (iface=) when one is named, as tcp/client.
    direct: (addresses, port, signal) => dialFrom(ctx.runtime, dialer, endpoint, text, addresses, port, limit, signal, warn),
    ...(endpoint.iface !== undefined ? { connect: (addresses: ResolvedAddress[], port: number, signal: AbortSignal, raceText: string) => dialFrom(ctx.runtime, ctx.runtime, endpoint, raceText, addresses, port, ctx.options.connectTimeoutMs, signal, warn) } : {}),
    ...(opts.tls ? { tls: tlsClientOf(ctx, servername, opts.alpn) } : {}),
  })
}

/** A warning said once per connector (an address the interface cannot reach, each retry). */
export function warnOnce(ctx: HalfContext, name: string): (m: string) => void {
  const log = ctx.logger.child(name)
  let said = false
  return (m) => {
    if (!said) log.warn(m)
    said = true
  }
}
