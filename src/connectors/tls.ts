import { listenAt } from '../net/bind-all.ts'
import type { ResolvedAddress, SocketAddress, TlsClientOptions, TlsServerOptions } from '../ports/runtime.ts'
import type { HalfContext, TlsMaterial } from '../core/connector.ts'
import { RelayError } from '../base/errors.ts'
import type { ConnectorSpec } from '../net/connector-string.ts'
import { dialFrom } from '../net/dial-from.ts'
import { warnOnce } from './tls-settings.ts'
import type { StreamTransport } from './stream-tunnel.ts'
import { formatAddress } from '../base/address.ts'
import { tunnelConnector } from './stream-tunnel.ts'
import { tunnelReach } from './reach.ts'
import { endpointOf } from '../core/connector.ts'
import { peerKey } from '../base/limits.ts'

const CLIENT_OPTIONS = new Set(['sni'])

/**
 * TLS as a tunnel transport: the tcp tunnel (hello, frames, heartbeats) inside TLS 1.2 or later.
 * Certificates come from the half's options (uhppoted-tunnel's --ca-cert, --cert, --key,
 * --client-auth). Clients verify the server certificate and name by default; `sni=name` sets
 * the name to send and to verify (needed when dialling an IP literal whose certificate names a
 * host). Settings are checked here, before anything binds or dials, so mistakes are config errors.
 */
export function tlsTransport(ctx: HalfContext, role: 'server' | 'client', spec: ConnectorSpec): StreamTransport {
  const rt = ctx.runtime
  const text = spec.text
  const name = `tls/${role}`
  if (!rt.listenTls || !rt.connectTls) throw new RelayError('E_CONFIG', `${text}: TLS is not available on the ${rt.name} runtime`)
  for (const key of Object.keys(spec.options)) {
    if (role === 'server' || !CLIENT_OPTIONS.has(key)) {
      throw new RelayError('E_CONFIG', `${text}: unknown option '${key}' for ${name}${role === 'client' ? ' (it takes sni=<name>)' : ''}`)
    }
  }
  if (role === 'server') {
    const tls = tlsServerSettings(ctx, text, name)
    const listenTls = rt.listenTls.bind(rt)
    // Admitted at TCP accept, before the handshake: a refused client is closed unanswered.
    return { name, listen: (addr, port, onConnection) => listenTls({ ...listenAt(addr, port), onConnection, tls, gate: ctx.limits.gate }) }
  }
  const tls = tlsClientSettings(ctx, spec)
  const connectTls = rt.connectTls.bind(rt)
  const { connectTimeoutMs, helloTimeoutMs } = ctx.options
  // Whatever dialling strategy the core uses, each attempt is a TCP connect plus a handshake,
  // each with its own limit and its own message; the dialer's own limit covers both.
  const dialer = { ...rt, connectTcp: (o: Parameters<typeof rt.connectTcp>[0]) => connectTls({ ...o, tls, connectTimeoutMs }) }
  const endpoint = endpointOf(spec)
  const warn = warnOnce(ctx, name)
  return {
    name,
    dial: tunnelReach(ctx, name, text, endpoint, {
      // From the interface of the `::eth0:` prefix (iface=) when one is named, as tcp/client.
      direct: (addresses, port, signal) => dialFrom(rt, dialer, endpoint, text, addresses, port, connectTimeoutMs + helloTimeoutMs + 1000, signal, warn),
      ...(endpoint.iface !== undefined ? { connect: (addresses: ResolvedAddress[], port: number, signal: AbortSignal, raceText: string) => dialFrom(rt, rt, endpoint, raceText, addresses, port, connectTimeoutMs, signal, warn) } : {}),
      tls,
    }),
  }
}

/**
 * A TLS server's settings from the half's options (tls/server, tcp/server with `,starttls`),
 * checked before anything binds: --cert and --key required, --client-auth needs --ca-cert.
 * Refused handshakes are counted and logged under `name`.
 */
export function tlsServerSettings(ctx: HalfContext, text: string, name: string): TlsServerOptions {
  const material = checkedMaterial(ctx, text)
  if (!material.cert || !material.key) throw new RelayError('E_CONFIG', `${text}: a TLS server needs --cert and --key (its certificate and private key, PEM files)`)
  if (material.clientAuth && !material.caCert) throw new RelayError('E_CONFIG', `${text}: --client-auth needs --ca-cert (the CA that signs the client certificates)`)
  // Failed handshakes are what a flood of peers causes: rate-limited per kind and peer.
  const limited = ctx.warnings.through(ctx.logger.child(name))
  return {
    cert: material.cert,
    key: material.key,
    ca: material.clientAuth ? material.caCert : undefined,
    requestCert: material.clientAuth ?? false,
    handshakeTimeoutMs: ctx.options.helloTimeoutMs,
    onClientError(err, remote) {
      ctx.stats.add('tunnel.tls_refused')
      const why = describeClientError(err, ctx.options.helloTimeoutMs)
      limited.warn(`${name} refused TLS client: ${why.split(':')[0]}`, peerKey(remote.address), `refused TLS client ${formatAddress(remote)}: ${why}`, { peer: formatAddress(remote) })
    },
  }
}

/**
 * A TLS client's settings from the half's options (tls/client, tcp/client with `,starttls`): the
 * server certificate is checked against `sni=`, else the host as written. A client certificate
 * needs both --cert and --key.
 */
export function tlsClientSettings(ctx: HalfContext, spec: ConnectorSpec): TlsClientOptions {
  const text = spec.text
  const material = checkedMaterial(ctx, text)
  if (Boolean(material.cert) !== Boolean(material.key)) throw new RelayError('E_CONFIG', `${text}: a client certificate needs both --cert and --key`)
  const sni = spec.options.sni
  if (sni === '') throw new RelayError('E_CONFIG', `${text}: sni needs a name (sni=relay.example.com)`)
  const endpoint = spec.endpoint
  const host = endpoint && (endpoint.hostKind === 'name' || endpoint.hostKind === 'ipv4' || endpoint.hostKind === 'ipv6') ? endpoint.host : undefined
  return {
    ca: material.caCert,
    cert: material.cert,
    key: material.key,
    // The name checked against the certificate: sni=, else the host as written (a name, or the
    // IP literal when one was given), never the address a name resolved to.
    servername: sni ?? host,
    handshakeTimeoutMs: ctx.options.helloTimeoutMs,
  }
}

function checkedMaterial(ctx: HalfContext, text: string): TlsMaterial {
  const material = ctx.options.tls
  checkPem(text, '--ca-cert', material.caCert, 'CERTIFICATE')
  checkPem(text, '--cert', material.cert, 'CERTIFICATE')
  checkPem(text, '--key', material.key, 'PRIVATE KEY')
  return material
}

function checkPem(text: string, option: string, value: string | undefined, kind: string): void {
  if (value === undefined) return
  if (!value.includes('-----BEGIN') || !value.includes(kind)) {
    throw new RelayError('E_CONFIG', `${text}: ${option} does not hold a PEM ${kind.toLowerCase()} (expected a '-----BEGIN ...${kind}-----' block)`)
  }
}


/** Why a TLS client was refused, in words (codes differ between runtimes: docs/runtimes.md#error-codes-differ-between-runtimes). */
export function describeClientError(err: Error, handshakeTimeoutMs: number): string {
  const code = (err as { code?: string }).code ?? ''
  const msg = err.message || String(err)
  const tail = code ? ` (${code})` : ''
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT' || /handshake timeout/i.test(msg)) return `did not finish the TLS handshake within ${handshakeTimeoutMs} ms`
  // An alert *from* the client: it gave up on us (most often, it does not trust our certificate).
  if (/ALERT/.test(code) && !/CERTIFICATE_REQUIRED/.test(code)) return `the client ended the handshake: ${msg}${tail}${/UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_UNKNOWN/.test(code) ? ' (it does not trust this server\'s certificate: give it the CA with --ca-cert)' : ''}`
  if (/PEER_DID_NOT_RETURN_A_CERTIFICATE|NO_CERTIFICATE|CERTIFICATE_REQUIRED/i.test(code + msg) || /did not return a certificate|no certificate/i.test(msg)) {
    return `no client certificate (this server runs with --client-auth)${tail}`
  }
  if (/CERTIFICATE_VERIFY_FAILED|UNKNOWN_CA|UNABLE_TO_GET_ISSUER|SELF_SIGNED|UNABLE_TO_VERIFY|CERT_/i.test(code + msg)) {
    return `client certificate rejected: not signed by the CA given with --ca-cert: ${msg}${tail}`
  }
  if (/WRONG_VERSION_NUMBER|HTTP_REQUEST|UNKNOWN_PROTOCOL|UNSUPPORTED_PROTOCOL|VERSION_TOO_LOW|wrong version|http request|unknown protocol/i.test(code + msg)) {
    return `not a TLS 1.2+ client: ${msg}${tail}`
  }
  if (code === 'ECONNRESET' || /socket hang up|disconnected|ECONNRESET/i.test(msg)) return `closed the connection during the TLS handshake${tail}`
  return `TLS handshake failed: ${msg}${tail}`
}

export const tlsConnector = tunnelConnector(tlsTransport)
