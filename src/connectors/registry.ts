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
  /**
   * The `,key[=value]` options this kind acts on (docs/addresses.md lists the address ones).
   * Anything else is refused at start: an option that is accepted and does nothing is a defect.
   * Undefined for plugins that check their own.
   */
  options?: readonly string[]
  load(): Promise<ConnectorFactory>
}

/** Options of a socket that dials: local bind, source port, the race's attempt delay (docs/addresses.md M1-M4, C3). */
const DIALS = ['bind', 'sourceport', 'attempt-delay']
/** Options of a listening socket: one dual-stack socket for [::] (S3). */
const LISTENS = ['ipv6only']
/** A multicast group as a destination (MC4) or joined (MC6). */
const MULTICAST_SENDS = ['ttl', 'loopback']
const MULTICAST_JOINS = ['source']
/** Tunnel clients spread streams over several connections. */
const SPREADS = ['connections']

const TUNNEL_OPTIONS: Record<string, { server: readonly string[]; client: readonly string[] }> = {
  tcp: { server: [...LISTENS, 'starttls'], client: [...DIALS, ...SPREADS, 'starttls', 'sni'] },
  tls: { server: [], client: [...SPREADS, 'sni'] },
  ws: { server: [], client: SPREADS },
  grpc: { server: ['tls'], client: [...SPREADS, 'tls'] },
  zmq: { server: LISTENS, client: [...DIALS, ...SPREADS] },
}

const tunnel = (kind: string, role: 'server' | 'client', load: () => Promise<(role: 'server' | 'client') => ConnectorFactory>): [string, Entry] =>
  [`${kind}/${role}`, { in: true, out: true, options: TUNNEL_OPTIONS[kind]![role], load: async () => (await load())(role) }]

const entries = new Map<string, Entry>([
  ['udp/listen', { in: true, out: false, options: [...LISTENS, 'wildcard', 'rescan', ...MULTICAST_JOINS], load: async () => (await import('./udp-listen.ts')).udpListenConnector }],
  ['udp/event', { in: true, out: true, options: [...LISTENS, 'wildcard', 'rescan', ...MULTICAST_JOINS, 'bind', 'sourceport', ...MULTICAST_SENDS], load: async () => (await import('./udp-event.ts')).udpEventConnector }],
  ['udp/client', { in: false, out: true, options: ['attempt-delay'], load: async () => (await import('./udp-client.ts')).udpClientConnector }],
  ['udp/p2p', { in: true, out: true, options: ['peer'], load: async () => (await import('./udp-p2p.ts')).udpP2pConnector }],
  ['udp/broadcast', { in: false, out: true, options: ['bind', 'sourceport', ...MULTICAST_SENDS], load: async () => (await import('./udp-broadcast.ts')).udpBroadcastConnector }],
  ...(['server', 'client'] as const).flatMap((role) => [
    tunnel('tcp', role, async () => (await import('./tcp.ts')).tcpConnector),
    tunnel('tls', role, async () => (await import('./tls.ts')).tlsConnector),
    tunnel('ws', role, async () => (await import('./ws.ts')).wsConnector),
    tunnel('grpc', role, async () => (await import('./grpc.ts')).grpcConnector),
    tunnel('zmq', role, async () => (await import('./zmq.ts')).zmqConnector),
  ]),
  ['tcp/listen', { in: true, out: false, options: [...LISTENS, 'to'], load: async () => (await import('./tcp-stream.ts')).tcpListenConnector }],
  ['tcp/connect', { in: false, out: true, options: DIALS, load: async () => (await import('./tcp-stream.ts')).tcpConnectConnector }],
  ['tcp/dial', { in: false, out: true, options: DIALS, load: async () => (await import('./tcp-stream.ts')).tcpDialConnector }],
  ['socks5/listen', { in: true, out: false, options: [...LISTENS, 'noauth'], load: async () => (await import('./socks5.ts')).socks5Connector }],
  ['http-proxy/listen', { in: true, out: false, options: [...LISTENS, 'noauth'], load: async () => (await import('./http-proxy.ts')).httpProxyConnector }],
  ['xmpp/client', { in: true, out: true, options: ['to', 'from', 'server', ...SPREADS], load: async () => (await import('./xmpp.ts')).xmppConnector }],
  ['http', { in: true, out: false, options: [], load: async () => (await import('./http-in.ts')).httpConnector(false) }],
  ['https', { in: true, out: false, options: [], load: async () => (await import('./http-in.ts')).httpConnector(true) }],
  ['ip/out', { in: false, out: true, options: [], load: async () => (await import('./ip-out.ts')).ipOutConnector }],
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

/** Refuses options this kind does not act on, naming the ones it does. */
function checkOptions(spec: ConnectorSpec, entry: Entry): void {
  if (!entry.options) return
  for (const key of Object.keys(spec.options)) {
    if (entry.options.includes(key)) continue
    const takes = entry.options.length ? `it takes ${entry.options.map((o) => `,${o}`).join(' ')}` : 'it takes no options'
    throw new RelayError('E_CONFIG', `${spec.text}: unknown option ',${key}' for ${nameOf(spec)} (${takes})`)
  }
}

export async function createIn(spec: ConnectorSpec, ctx: HalfContext, out: ConnectorSpec): Promise<InConnector> {
  const entry = entries.get(nameOf(spec))
  if (!entry?.in) throw new RelayError('E_CONFIG', `${nameOf(spec)} cannot be used as --in${entry?.out ? ' (it is an --out connector)' : ' (not implemented yet)'}; in connectors: ${listFor('in')}`)
  // The connector's own checks first: they know better hints than the list.
  const made = (await entry.load()).in!(spec, ctx, out)
  checkOptions(spec, entry)
  return made
}

export async function createOut(spec: ConnectorSpec, ctx: HalfContext, inSpec: ConnectorSpec | undefined): Promise<OutConnector> {
  const entry = entries.get(nameOf(spec))
  if (!entry?.out) throw new RelayError('E_CONFIG', `${nameOf(spec)} cannot be used as --out${entry?.in ? ' (it is an --in connector)' : ' (not implemented yet)'}; out connectors: ${listFor('out')}`)
  const made = (await entry.load()).out!(spec, ctx, inSpec)
  checkOptions(spec, entry)
  return made
}
