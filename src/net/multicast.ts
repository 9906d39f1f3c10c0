/**
 * Multicast settings of a udp connector whose address is a group (docs/addresses.md#multicast-mc):
 * the interface is always named (MC1, MC4: `udp/listen::eth0:239.1.2.3:5000` or `,iface=eth0`),
 * TTL / hop limit and loopback are always set explicitly (`ttl=`, default 1; `loopback`, default
 * off), `source=` asks for a source-specific join (MC6).
 */
import type { Family, MulticastInterface, Runtime } from '../ports/runtime.ts'
import { RelayError } from '../base/errors.ts'
import { type Endpoint, parseHost } from './endpoint.ts'
import { interfaceAddresses } from './interface-addresses.ts'
import { parseIPv4, parseIPv6 } from '../base/ip.ts'

/** Options that only mean something for a multicast group. */
const MULTICAST_OPTIONS = ['ttl', 'loopback', 'source'] as const

/** Whether a literal host is a multicast group: 224.0.0.0/4 or ff00::/8. */
export function isMulticastHost(ep: Pick<Endpoint, 'host' | 'hostKind'>): boolean {
  if (ep.hostKind === 'ipv4') {
    const v4 = parseIPv4(ep.host)
    return v4.ok && (v4.value[0] ?? 0) >= 224 && (v4.value[0] ?? 0) <= 239
  }
  if (ep.hostKind === 'ipv6') {
    const v6 = parseIPv6(ep.host)
    return v6.ok && ((v6.value[0] ?? 0) & 0xff00) === 0xff00
  }
  return false
}

export interface MulticastPlan {
  group: string
  family: Family
  iface: MulticastInterface
  ttl: number
  loopback: boolean
  source?: string
}

/** Refuses multicast-only options on a unicast address (MC5: E_NOT_MULTICAST). */
export function checkNotMulticastOptions(ep: Endpoint, text: string): void {
  const given = MULTICAST_OPTIONS.filter((k) => Object.hasOwn(ep.options, k))
  if (given.length > 0 && !isMulticastHost(ep)) {
    throw new RelayError('E_NOT_MULTICAST', `${text}: ${given.map((k) => `${k}=`).join(', ')} ${given.length > 1 ? 'apply' : 'applies'} only to a multicast group (224.0.0.0/4, ff00::/8), and ${ep.host} is not one`)
  }
}

function parseBool(value: string, key: string, text: string): boolean {
  if (value === '' || value === '1' || value === 'true' || value === 'on') return true
  if (value === '0' || value === 'false' || value === 'off') return false
  throw new RelayError('E_CONFIG', `${text}: ${key} is on or off (loopback, loopback=0), not '${value}'`)
}

/** The multicast settings of a group endpoint; throws on anything inconsistent (MC1, MC4–MC6). */
export function multicastPlan(rt: Runtime, ep: Endpoint, text: string): MulticastPlan {
  const family: Family = ep.hostKind === 'ipv6' ? 6 : 4
  if (ep.iface !== undefined && ep.zone !== undefined && ep.iface !== ep.zone) {
    throw new RelayError('E_ZONE_MISMATCH', `${text}: the group's zone '%${ep.zone}' and the interface '${ep.iface}' differ`)
  }
  const name = ep.iface ?? ep.zone
  if (name === undefined) {
    const example = family === 6 ? `udp/listen:[${ep.host}]:${ep.port},iface=eth0` : `udp/listen::eth0:${ep.host}:${ep.port}`
    throw new RelayError('E_CONFIG', `${text}: a multicast group needs the interface to use (never the OS's choice): e.g. ${example}`)
  }
  if (ep.options.bind !== undefined) throw new RelayError('E_CONFIG', `${text}: bind= does not apply to a multicast group: name the interface instead`)
  const addrs = interfaceAddresses(rt, name, text)
  const index = /^[0-9]+$/.test(name) ? Number(name) : rt.interfaceIndex?.(name)
  if (index === undefined) throw new RelayError('E_NO_SUCH_INTERFACE', `${text}: cannot find the index of interface '${name}'`)
  const ipv4 = addrs.find((a) => a.family === 4)?.address
  if (family === 4 && ipv4 === undefined) {
    throw new RelayError('E_FAMILY_MISMATCH', `${text}: the IPv4 group ${ep.host} needs an IPv4 address on interface ${name}, which has none`)
  }
  const ttlText = ep.options.ttl ?? '1'
  if (!/^(0|[1-9][0-9]{0,2})$/.test(ttlText) || Number(ttlText) > 255) throw new RelayError('E_CONFIG', `${text}: ttl is a hop count 0–255, not '${ttlText}'`)
  const plan: MulticastPlan = {
    group: ep.host,
    family,
    iface: { name, index, ...(ipv4 ? { ipv4 } : {}) },
    ttl: Number(ttlText),
    loopback: ep.options.loopback === undefined ? false : parseBool(ep.options.loopback, 'loopback', text),
  }
  const source = ep.options.source
  if (source !== undefined) {
    const host = parseHost(source)
    if (host.hostKind !== 'ipv4' && host.hostKind !== 'ipv6') throw new RelayError('E_CONFIG', `${text}: source= takes the sender's IP address, not '${source}'`)
    if ((host.hostKind === 'ipv6' ? 6 : 4) !== family) {
      throw new RelayError('E_FAMILY_MISMATCH', `${text}: source ${source} and group ${ep.host} are of different families`)
    }
    plan.source = host.host
  }
  return plan
}
