import type { HalfContext } from '../core/connector.ts'
import type { Endpoint } from '../net/endpoint.ts'
import { raceOptionsOf, raceTcp } from '../net/dial.ts'
import { filterForLocal, localBindOf } from '../net/family.ts'
import { dualStackRequested } from '../net/resolve.ts'
import type { StreamTransport } from './stream-tunnel.ts'
import { listenAt } from '../net/bind-all.ts'
import { endpointOf } from '../core/connector.ts'
import { encodeServerReply } from '../protocol/hello.ts'
import { tunnelConnector } from './stream-tunnel.ts'
import { tlsClientSettings, tlsServerSettings } from './tls.ts'
import { RelayError } from '../base/errors.ts'
import type { ConnectorSpec } from '../net/connector-string.ts'
import type { ResolvedAddress, StreamConn } from '../ports/runtime.ts'
import { tunnelReach } from './reach.ts'
import { socketOf } from '../net/dialers/held-conn.ts'

/** A race of TCP connections to resolved addresses (`raceText` names them in messages: a proxy's). */
export type TcpRace = (addresses: ResolvedAddress[], port: number, signal: AbortSignal, raceText?: string) => Promise<StreamConn>

/**
 * The dialling side of a tcp/client (and zmq/client): to the server directly, or through a proxy,
 * the proxy reached with the same race, local bind included.
 */
export function tcpClientDial(ctx: HalfContext, name: string, text: string, endpoint: Endpoint, tcp: { connect: TcpRace }): (signal: AbortSignal) => Promise<StreamConn> {
  return tunnelReach(ctx, name, text, endpoint, { direct: (a, p, s) => tcp.connect(a, p, s), connect: tcp.connect })
}

/**
 * Plain TCP as a tunnel transport. Clients race the resolved addresses (RFC 8305, docs/addresses.md C1–C10)
 * from the local bind given by `bind=`, `sourceport=` or the `::iface:` prefix, keeping only the
 * remote addresses that bind can reach (M1–M4).
 */
export function tcpTransport(ctx: HalfContext, role: 'server' | 'client', text: string, endpoint?: Endpoint, allowHalfOpen = false): StreamTransport & Required<Pick<StreamTransport, 'listen'>> & { connect: TcpRace } {
  const rt = ctx.runtime
  const log = ctx.logger.child(`tcp/${role}`)
  let warned = false
  const warnOnce = (m: string) => {
    if (!warned) log.warn(m)
    warned = true
  }
  const race = role === 'client' && endpoint ? raceOptionsOf(endpoint.options, text, (m) => log.warn(m)) : {}
  const dualStack = role === 'server' && endpoint !== undefined && dualStackRequested(endpoint, text)
  return {
    name: `tcp/${role}`,
    // Admitted through the half's gate; a refused peer reads why in a hello refusal.
    listen: (addr, port, onConnection) => rt.listenTcp({ ...listenAt(addr, port, dualStack), allowHalfOpen, onConnection, gate: ctx.limits.gate, refusal: (reason) => encodeServerReply(false, reason) }),
    connect: (addresses, port, signal, raceText = text) => {
      const local = endpoint && localBindOf(rt, endpoint, text)
      const targets = filterForLocal(rt, addresses, local, text, warnOnce)
      return raceTcp(rt, raceText, targets, port, {
        timeoutMs: ctx.options.connectTimeoutMs,
        signal,
        race,
        localAddressFor: local && ((c) => local.addressFor(c)),
        localPort: local?.port,
        allowHalfOpen,
        onEvent: (e) => log.debug(`${e.type} ${e.address.includes(':') ? `[${e.address}]` : e.address}:${port} at ${Math.round(e.atMs)} ms${e.type === 'attempt-fail' ? `: ${e.errno ?? e.message}` : ''}`),
      })
    },
  }
}

/**
 * tcp/client and tcp/server; with `,starttls` the halves meet in plain TCP, agree in the hello to
 * upgrade and run TLS on the same connection (docs/wire-protocol.md#starttls), with tls/'s
 * certificates and checks (`sni=` on the client names the certificate to expect).
 */
export const tcpConnector = tunnelConnector((ctx, role, spec) => {
  const tcp = tcpTransport(ctx, role, spec.text, endpointOf(spec))
  const transport: StreamTransport = role === 'client' ? { ...tcp, dial: tcpClientDial(ctx, tcp.name, spec.text, endpointOf(spec), tcp) } : tcp
  if (spec.options.starttls === undefined) {
    if (spec.options.sni !== undefined) throw new RelayError('E_CONFIG', `${spec.text}: sni= is for TLS: use tls/client, or tcp/client with ,starttls`)
    return transport
  }
  return { ...transport, starttls: startTlsFor(ctx, role, spec) }
})

function startTlsFor(ctx: HalfContext, role: 'server' | 'client', spec: ConnectorSpec): (conn: StreamConn) => Promise<StreamConn> {
  const rt = ctx.runtime
  const text = spec.text
  if (spec.options.starttls !== '') throw new RelayError('E_CONFIG', `${text}: starttls takes no value (write ,starttls)`)
  if (role === 'server' && spec.options.sni !== undefined) throw new RelayError('E_CONFIG', `${text}: sni= is for the dialling side (tcp/client)`)
  if (!rt.capabilities.startTls || !rt.startTls) throw new RelayError('E_UNSUPPORTED_ON_RUNTIME', `${text}: the ${rt.name} runtime cannot start TLS on an open connection; use tls/${role}`)
  if (ctx.options.codec === 'uhppoted') throw new RelayError('E_CONFIG', `${text}: STARTTLS is agreed in the edgerelay hello, which uhppoted-tunnel framing (--codec uhppoted) does not have; use tls/${role}`)
  const startTls = rt.startTls.bind(rt)
  if (role === 'server') {
    const tls = tlsServerSettings(ctx, text, `tcp/server`)
    return (conn) => startTls(conn, { side: 'server', tls })
  }
  const tls = tlsClientSettings(ctx, spec)
  // Through a proxy the connection is a HeldConn: the runtime takes the socket under it.
  return (conn) => startTls(socketOf(conn) ?? conn, { side: 'client', tls })
}
