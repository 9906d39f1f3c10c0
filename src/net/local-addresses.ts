/**
 * The local unicast addresses `udp/listen:*` binds one socket each on (docs/addresses.md U1): every address of
 * every interface in the enabled families, loopback included, link-local ones with their zone,
 * optionally only those of one interface (`::eth0:` prefix). None of our runtimes can read a
 * datagram's destination address (IP_PKTINFO), so one socket per address is how a reply leaves
 * from the address the client sent to (U2).
 */
import type { Family, ResolvedAddress, Runtime } from '../ports/runtime.ts'
import { RelayError } from '../base/errors.ts'
import { interfaceAddresses } from './interface-addresses.ts'
import { isLinkLocal } from '../base/address.ts'


export interface LocalAddresses {
  addresses: ResolvedAddress[]
  /** Enabled families with no address at all (warned as W_FAMILY_UNAVAILABLE). */
  missing: Family[]
}

export function localUnicastAddresses(rt: Runtime, families: Family[], text: string, iface?: string): LocalAddresses {
  if (!rt.networkInterfaces) throw new RelayError('E_UNSUPPORTED_ON_RUNTIME', `${text}: the ${rt.name} runtime cannot list network interfaces`)
  const list = iface === undefined ? rt.networkInterfaces() : interfaceAddresses(rt, iface, text)
  const seen = new Set<string>()
  const addresses: ResolvedAddress[] = []
  // IPv6 first, as for the wildcard listeners.
  for (const family of [6, 4] as const) {
    if (!families.includes(family)) continue
    for (const a of list) {
      if (a.family !== family) continue
      const address = family === 6 && isLinkLocal(a.address) ? `${a.address}%${a.name}` : a.address
      if (seen.has(address)) continue
      seen.add(address)
      addresses.push({ address, family })
    }
  }
  const missing = families.filter((f) => !addresses.some((a) => a.family === f))
  return { addresses, missing }
}
