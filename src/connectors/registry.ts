/**
 * Connector kinds by name (`udp/listen`, `tcp/client`). Built-in kinds are loaded on first use, so
 * a half imports only the connectors it runs: a udp↔tcp half never loads the HTTP, WebSocket or
 * gRPC code (nor the packages behind them). Plugins register a factory the same way.
 */
import type { ConnectorFactory, HalfContext, InConnector, OutConnector } from '../core/connector.ts'
import { RelayError } from '../base/errors.ts'
import type { ConnectorSpec } from '../net/connector-string.ts'

export type { ConnectorFactory }

interface Entry {
  in: boolean
  out: boolean
  load(): Promise<ConnectorFactory>
}

const tunnel = (kind: string, role: 'server' | 'client', load: () => Promise<(role: 'server' | 'client') => ConnectorFactory>): [string, Entry] =>
  [`${kind}/${role}`, { in: true, out: true, load: async () => (await load())(role) }]

const entries = new Map<string, Entry>([
  ['udp/listen', { in: true, out: false, load: async () => (await import('./udp-listen.ts')).udpListenConnector }],
  ['udp/event', { in: true, out: true, load: async () => (await import('./udp-event.ts')).udpEventConnector }],
  ['udp/client', { in: false, out: true, load: async () => (await import('./udp-client.ts')).udpClientConnector }],
  ['udp/p2p', { in: true, out: true, load: async () => (await import('./udp-p2p.ts')).udpP2pConnector }],
  ['udp/broadcast', { in: false, out: true, load: async () => (await import('./udp-broadcast.ts')).udpBroadcastConnector }],
  ...(['server', 'client'] as const).flatMap((role) => [
    tunnel('tcp', role, async () => (await import('./tcp.ts')).tcpConnector),
    tunnel('tls', role, async () => (await import('./tls.ts')).tlsConnector),
    tunnel('ws', role, async () => (await import('./ws.ts')).wsConnector),
    tunnel('grpc', role, async () => (await import('./grpc.ts')).grpcConnector),
    tunnel('zmq', role, async () => (await import('./zmq.ts')).zmqConnector),
  ]),
  ['tcp/listen', { in: true, out: false, load: async () => (await import('./tcp-stream.ts')).tcpListenConnector }],
  ['tcp/connect', { in: false, out: true, load: async () => (await import('./tcp-stream.ts')).tcpConnectConnector }],
  ['tcp/dial', { in: false, out: true, load: async () => (await import('./tcp-stream.ts')).tcpDialConnector }],
  ['socks5/listen', { in: true, out: false, load: async () => (await import('./socks5.ts')).socks5Connector }],
  ['http-proxy/listen', { in: true, out: false, load: async () => (await import('./http-proxy.ts')).httpProxyConnector }],
  ['xmpp/client', { in: true, out: true, load: async () => (await import('./xmpp.ts')).xmppConnector }],
  ['http', { in: true, out: false, load: async () => (await import('./http-in.ts')).httpConnector(false) }],
  ['https', { in: true, out: false, load: async () => (await import('./http-in.ts')).httpConnector(true) }],
  ['ip/out', { in: false, out: true, load: async () => (await import('./ip-out.ts')).ipOutConnector }],
])

/** Registers a connector kind (`udp/listen`); plugins register the same way. A later registration replaces an earlier one. */
export function registerConnector(name: string, factory: ConnectorFactory): void {
  entries.set(name, { in: factory.in !== undefined, out: factory.out !== undefined, load: () => Promise.resolve(factory) })
}

function nameOf(spec: ConnectorSpec): string {
  return spec.role ? `${spec.kind}/${spec.role}` : spec.kind
}

function listFor(position: 'in' | 'out'): string {
  return [...entries].filter(([, e]) => e[position]).map(([n]) => n).join(', ')
}

export async function createIn(spec: ConnectorSpec, ctx: HalfContext, out: ConnectorSpec): Promise<InConnector> {
  const entry = entries.get(nameOf(spec))
  if (!entry?.in) throw new RelayError('E_CONFIG', `${nameOf(spec)} cannot be used as --in${entry?.out ? ' (it is an --out connector)' : ' (not implemented yet)'}; in connectors: ${listFor('in')}`)
  return (await entry.load()).in!(spec, ctx, out)
}

export async function createOut(spec: ConnectorSpec, ctx: HalfContext, inSpec: ConnectorSpec | undefined): Promise<OutConnector> {
  const entry = entries.get(nameOf(spec))
  if (!entry?.out) throw new RelayError('E_CONFIG', `${nameOf(spec)} cannot be used as --out${entry?.in ? ' (it is an --in connector)' : ' (not implemented yet)'}; out connectors: ${listFor('out')}`)
  return (await entry.load()).out!(spec, ctx, inSpec)
}
