import { RelayError } from '../base/errors.ts'
import { type ConnectorSpec, parseConnector } from '../net/connector-string.ts'
import { formatHostPort } from '../net/endpoint.ts'

type Connector = string | ConnectorSpec

/** A half's connectors as HalfSettings gives them (a caller-made --in, `create`, binds nothing here). */
export interface HalfConnectors {
  in: Connector | readonly Connector[] | { create: unknown }
  out: Connector | readonly Connector[]
}

/** Roles that bind a known local address (their duplicates would collide). */
const LISTENING = new Set(['listen', 'server', 'event', 'p2p', ''])

/**
 * Several halves in one process (a config file with many tables, OpenVPN 2.7's multi-socket
 * servers), or several --in of one half, may listen on the same port with different protocols
 * (tcp and udp), but an exact duplicate (protocol, address, port) is a configuration error
 * (docs/addresses.md S6), found before anything binds instead of as an EADDRINUSE halfway through
 * the start.
 */
export function checkDuplicateListens(configs: { where: string; options: HalfConnectors }[]): void {
  const seen = new Map<string, string>()
  for (const { where, options } of configs) {
    const listed = (value: HalfConnectors['in']): readonly Connector[] => (Array.isArray(value) ? value : typeof value === 'object' && 'create' in value ? [] : [value as Connector])
    const connectors = [...listed(options.in).map((v) => ['in', v] as const), ...listed(options.out).map((v) => ['out', v] as const)]
    for (const [position, value] of connectors) {
      const spec: ConnectorSpec = typeof value === 'string' ? parseConnector(value) : value
      const ep = spec.endpoint
      const listening = LISTENING.has(spec.role) && !(spec.role === 'event' && position === 'out')
      if (!ep || !listening || ep.port === 0) continue
      // Stream tunnels (tcp, tls, ws, grpc, http) share the TCP port space; udp has its own.
      const proto = spec.kind === 'udp' ? 'udp' : 'tcp'
      const key = `${proto} ${formatHostPort(ep)}${ep.iface ? `%${ep.iface}` : ''}`
      const first = seen.get(key)
      if (first !== undefined) throw new RelayError('E_DUPLICATE_LISTEN', `${where}: ${spec.text} listens on ${key}, as ${first} already does`)
      seen.set(key, `${where} (${spec.text})`)
    }
  }
}
