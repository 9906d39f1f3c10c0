import type { HalfContext, InConnector, OutConnector } from '../core/connector.ts'
import { RelayError } from '../base/errors.ts'
import type { ConnectorSpec } from '../net/connector-string.ts'
import { streamTunnelIn, streamTunnelOut } from './stream-tunnel.ts'
import { tcpTransport } from './tcp.ts'
import { tlsTransport } from './tls.ts'
import { udpBroadcastOut } from './udp-broadcast.ts'
import { udpEventOut } from './udp-event-out.ts'
import { udpListenIn } from './udp-listen.ts'
import { wsTransport } from './ws.ts'
import { grpcTransport } from './grpc.ts'
import { httpIn } from './http-in.ts'

export interface ConnectorFactory {
  in?(spec: ConnectorSpec, ctx: HalfContext, peer: ConnectorSpec): InConnector
  out?(spec: ConnectorSpec, ctx: HalfContext, peer: ConnectorSpec | undefined): OutConnector
}

const factories = new Map<string, ConnectorFactory>()

/** Registers a connector kind (`udp/listen`); plugins register the same way. */
export function registerConnector(name: string, factory: ConnectorFactory): void {
  factories.set(name, factory)
}

function nameOf(spec: ConnectorSpec): string {
  return spec.role ? `${spec.kind}/${spec.role}` : spec.kind
}

function endpointOf(spec: ConnectorSpec) {
  if (!spec.endpoint) throw new RelayError('E_CONFIG', `${spec.text}: needs an address`)
  return spec.endpoint
}

export function createIn(spec: ConnectorSpec, ctx: HalfContext, out: ConnectorSpec): InConnector {
  const f = factories.get(nameOf(spec))
  if (!f?.in) throw new RelayError('E_CONFIG', `${nameOf(spec)} cannot be used as --in${f?.out ? ' (it is an --out connector)' : ' (not implemented yet)'}; in connectors: ${listFor('in')}`)
  return f.in(spec, ctx, out)
}

export function createOut(spec: ConnectorSpec, ctx: HalfContext, inSpec: ConnectorSpec | undefined): OutConnector {
  const f = factories.get(nameOf(spec))
  if (!f?.out) throw new RelayError('E_CONFIG', `${nameOf(spec)} cannot be used as --out${f?.in ? ' (it is an --in connector)' : ' (not implemented yet)'}; out connectors: ${listFor('out')}`)
  return f.out(spec, ctx, inSpec)
}

function listFor(position: 'in' | 'out'): string {
  return [...factories].filter(([, f]) => f[position]).map(([n]) => n).join(', ')
}

const isEventOut = (peer: ConnectorSpec) => peer.kind === 'udp' && peer.role === 'event'

registerConnector('udp/listen', { in: (s, ctx) => udpListenIn(ctx, endpointOf(s), s.text, 'request') })
registerConnector('udp/event', {
  in: (s, ctx) => udpListenIn(ctx, endpointOf(s), s.text, 'event'),
  out: (s, ctx) => udpEventOut(ctx, endpointOf(s), s.text),
})
registerConnector('udp/broadcast', { out: (s, ctx) => udpBroadcastOut(ctx, endpointOf(s), s.text) })
for (const role of ['server', 'client'] as const) {
  registerConnector(`tcp/${role}`, {
    in: (s, ctx, peer) => streamTunnelIn(ctx, tcpTransport(ctx, role, s.text, endpointOf(s)), { text: s.text, endpoint: endpointOf(s), eventsIn: isEventOut(peer) }, role),
    out: (s, ctx) => streamTunnelOut(ctx, tcpTransport(ctx, role, s.text, endpointOf(s)), { text: s.text, endpoint: endpointOf(s) }, role),
  })
}
for (const role of ['server', 'client'] as const) {
  registerConnector(`tls/${role}`, {
    in: (s, ctx, peer) => streamTunnelIn(ctx, tlsTransport(ctx, role, s), { text: s.text, endpoint: endpointOf(s), eventsIn: isEventOut(peer) }, role),
    out: (s, ctx) => streamTunnelOut(ctx, tlsTransport(ctx, role, s), { text: s.text, endpoint: endpointOf(s) }, role),
  })
}
for (const role of ['server', 'client'] as const) {
  registerConnector(`ws/${role}`, {
    in: (s, ctx, peer) => streamTunnelIn(ctx, wsTransport(ctx, role, s), { text: s.text, endpoint: endpointOf(s), eventsIn: isEventOut(peer) }, role),
    out: (s, ctx) => streamTunnelOut(ctx, wsTransport(ctx, role, s), { text: s.text, endpoint: endpointOf(s) }, role),
  })
}
for (const role of ['server', 'client'] as const) {
  registerConnector(`grpc/${role}`, {
    in: (s, ctx, peer) => streamTunnelIn(ctx, grpcTransport(ctx, role, s), { text: s.text, endpoint: endpointOf(s), eventsIn: isEventOut(peer) }, role),
    out: (s, ctx) => streamTunnelOut(ctx, grpcTransport(ctx, role, s), { text: s.text, endpoint: endpointOf(s) }, role),
  })
}
registerConnector('http', { in: (s, ctx) => httpIn(ctx, s, false) })
registerConnector('https', { in: (s, ctx) => httpIn(ctx, s, true) })
