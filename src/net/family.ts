/**
 * Forcing a family and matching a local bind with a remote (docs/addresses.md F1–F5 and
 * M1–M4). A connector's local bind comes from `bind=<address>` or from uhppoted-tunnel's
 * `::<interface>` prefix (`iface=`), plus `sourceport=<port>`.
 */
import type { Family, InterfaceAddress, ResolvedAddress, Runtime } from '../ports/runtime.ts'
import { RelayError } from '../base/errors.ts'
import type { ConnectorSpec } from './connector-string.ts'
import { type Endpoint, parseHost } from './endpoint.ts'
import { interfaceAddresses } from './interface-addresses.ts'
import { isMulticastHost } from './multicast.ts'
import { effectiveFamily, literalOf } from './resolve.ts'
import { bracketed, isLinkLocal } from '../base/address.ts'

const fmt = bracketed

/** What a connector binds locally before connecting or sending. */
export interface LocalBind {
  /** For messages: `bind=10.9.0.1`, `interface eth0`. */
  what: string
  /** `bind=*`: any address of any family, no filtering (M3). */
  any: boolean
  /** `sourceport=`. */
  port?: number
  /** The local address for a connection to `remote`; undefined: this bind cannot reach it. */
  addressFor(remote: ResolvedAddress): string | undefined
  /** M4: the zone a link-local remote must carry, when the bind pins one. */
  zone?: string
}

/** Checks that a zone (`%eth0`) names an interface that exists now (P4, at use time). */
export function checkZone(rt: Runtime, zone: string | undefined, text: string): void {
  if (zone === undefined || /^[0-9]+$/.test(zone) || !rt.interfaceIndex) return
  if (rt.interfaceIndex(zone) === undefined && !(rt.networkInterfaces?.() ?? []).some((a) => a.name === zone)) {
    throw new RelayError('E_NO_SUCH_INTERFACE', `${text}: zone '%${zone}' names no network interface of this host`)
  }
}

/** The local bind of a connecting endpoint, or undefined when it has none (`--nobind`, C9). */
export function localBindOf(rt: Runtime, ep: Endpoint, text: string): LocalBind | undefined {
  const bindText = ep.options.bind
  const portText = ep.options.sourceport
  let port: number | undefined
  if (portText !== undefined) {
    if (!/^[1-9][0-9]{0,4}$/.test(portText) || Number(portText) > 65535) throw new RelayError('E_CONFIG', `${text}: sourceport must be a port number 1–65535, not '${portText}'`)
    port = Number(portText)
  }
  if (bindText !== undefined && ep.iface !== undefined) {
    throw new RelayError('E_CONFIG', `${text}: give either an interface (::${ep.iface}: or iface=) or bind=, not both`)
  }
  if (bindText !== undefined) {
    if (bindText === '') throw new RelayError('E_CONFIG', `${text}: bind needs an address (bind=10.0.0.1, bind=::1, bind=*)`)
    const host = parseHost(bindText)
    if (host.hostKind === 'name') throw new RelayError('E_CONFIG', `${text}: bind= takes an IP address or *, not the name '${bindText}'`)
    if (host.hostKind === 'wildcard') return { what: 'bind=*', any: true, port, addressFor: (r) => (r.family === 6 ? '::' : '0.0.0.0') }
    checkZone(rt, host.zone, text)
    const family: Family = host.hostKind === 'ipv6' ? 6 : 4
    const address = literalOf({ ...host, port: 0, options: {} })
    return { what: `bind=${bindText}`, any: false, port, zone: family === 6 ? (host.zone ?? '') : undefined, addressFor: (r) => (r.family === family ? address : undefined) }
  }
  if (ep.iface !== undefined) {
    const name = ep.iface
    const addrs = interfaceAddresses(rt, name, text)
    const v4 = addrs.find((a) => a.family === 4)?.address
    const global6 = addrs.find((a) => a.family === 6 && !isLinkLocal(a.address))?.address
    const link6 = addrs.find((a) => a.family === 6 && isLinkLocal(a.address))?.address
    return {
      what: `interface ${name}`,
      any: false,
      port,
      zone: name,
      addressFor: (r) => (r.family === 4 ? v4 : isLinkLocal(r.address) ? (link6 && `${link6}%${name}`) : global6),
    }
  }
  return port === undefined ? undefined : { what: `sourceport=${port}`, any: true, port, addressFor: () => undefined }
}

function zoneOf(address: string): string | undefined {
  const i = address.indexOf('%')
  return i < 0 ? undefined : address.slice(i + 1)
}

function sameZone(rt: Runtime, a: string, b: string): boolean {
  if (a === b) return true
  const index = (z: string) => (/^[0-9]+$/.test(z) ? Number(z) : rt.interfaceIndex?.(z))
  const ia = index(a)
  return ia !== undefined && ia === index(b)
}

/**
 * Keeps the remote addresses the local bind can reach (M1–M4): the other family is filtered out
 * with one warning (W_FAMILY_FILTERED) when something is left, and is E_FAMILY_MISMATCH when
 * nothing is. A link-local remote needs the bind's zone (E_ZONE_MISMATCH).
 */
export function filterForLocal(rt: Runtime, remotes: ResolvedAddress[], local: LocalBind | undefined, text: string, warn?: (msg: string) => void): ResolvedAddress[] {
  if (!local || local.any) return remotes
  for (const r of remotes) {
    const zone = zoneOf(r.address)
    if (zone === undefined || local.zone === undefined) continue
    if (local.zone === '' || !sameZone(rt, zone, local.zone)) {
      throw new RelayError('E_ZONE_MISMATCH', `${text}: the link-local remote ${fmt(r.address)} is on '${zone}' but the local ${local.what} ${local.zone ? `is on '${local.zone}'` : 'has no zone'}`)
    }
  }
  const kept = remotes.filter((r) => local.addressFor(r) !== undefined)
  if (kept.length === 0) {
    const families = [...new Set(remotes.map((r) => `IPv${r.family}`))].join(' and ')
    throw new RelayError('E_FAMILY_MISMATCH', `${text}: the local ${local.what} has no address of the remote's family (${families}: ${remotes.map((r) => fmt(r.address)).join(', ')})`)
  }
  if (kept.length < remotes.length) {
    const dropped = remotes.filter((r) => !kept.includes(r))
    warn?.(`W_FAMILY_FILTERED ${text}: the local ${local.what} cannot reach ${dropped.map((r) => fmt(r.address)).join(', ')}; trying only ${kept.map((r) => fmt(r.address)).join(', ')}`)
  }
  return kept
}

/** Roles that bind locally and then reach out (have a local bind in the M sense). */
const DIALLING = new Set(['client', 'broadcast', 'connect'])

/**
 * Checks at start what can be checked without the network, so contradictions fail at once with
 * their own exit code instead of in a retry loop: F3 family conflicts, M2/M4 between a literal
 * remote and the local bind, and interface names (P4, E_NO_SUCH_INTERFACE).
 */
export function preflight(rt: Runtime, spec: ConnectorSpec, global: Family | undefined, position: 'in' | 'out'): void {
  const ep = spec.endpoint
  if (!ep) return
  const text = spec.text
  const family = effectiveFamily(ep, global, text)
  if ((ep.hostKind === 'ipv4' || ep.hostKind === 'ipv6') && family !== undefined) {
    const literal: Family = ep.hostKind === 'ipv6' ? 6 : 4
    if (literal !== family) throw new RelayError('E_FAMILY_CONFLICT', `${text}: the IPv${literal} address ${fmt(ep.host)} cannot be used with ${ep.family ? `${spec.kind}${ep.family}` : `--ipv${family}`}`)
  }
  checkZone(rt, ep.zone, text)
  const dialling = DIALLING.has(spec.role) || (spec.kind === 'udp' && spec.role === 'event' && position === 'out')
  if (!dialling) {
    if (ep.iface !== undefined) interfaceAddresses(rt, ep.iface, text)
    return
  }
  // A multicast group's interface is its outgoing interface, not a source bind (MC rules).
  if (isMulticastHost(ep)) return
  const local = localBindOf(rt, ep, text)
  if (ep.hostKind === 'ipv4' || ep.hostKind === 'ipv6') {
    filterForLocal(rt, [{ address: literalOf(ep), family: ep.hostKind === 'ipv6' ? 6 : 4 }], local, text)
  }
}
