import type { HalfSettings } from '../half/start-half.ts'
import { RelayError } from '../base/errors.ts'
import { type ConnectorSpec, parseConnector } from '../net/connector-string.ts'
import { formatHostPort } from '../net/endpoint.ts'

/** Roles that bind a known local address (their duplicates would collide). */
const LISTENING = new Set(['listen', 'server', 'event', ''])

/**
 * Several halves in one process (a config file with many tables, OpenVPN 2.7's multi-socket
 * servers) may listen on the same port with different protocols (tcp and udp), but an exact
 * duplicate (protocol, address, port) is a configuration error (docs/addresses.md S6), found before anything
 * binds instead of as an EADDRINUSE halfway through the start.
 */
export function checkDuplicateListens(configs: { where: string; options: HalfSettings }[]): void {
  const seen = new Map<string, string>()
  for (const { where, options } of configs) {
    for (const [position, value] of [['in', options.in], ['out', options.out]] as const) {
      if (typeof value === 'object' && 'create' in value) continue
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
