/**
 * Multicast through node:dgram (spec/endpoints.md §2.7). Used on Node and Bun, and on Deno for
 * what Deno.listenDatagram cannot do (the sending side: it has no multicast-if setter; and
 * source-specific joins).
 */
import type dgram from 'node:dgram'
import type { MulticastBindOptions, MulticastSocket } from '../types.ts'
import { bindUdp } from './udp.ts'

/** IPv4 interfaces are named by address, IPv6 ones as `::%name` (Node's form). */
function ifaceArg(opts: MulticastBindOptions): string {
  if (opts.family === 6) return `::%${opts.iface.name}`
  if (!opts.iface.ipv4) throw Object.assign(new Error(`interface ${opts.iface.name} has no IPv4 address`), { code: 'EADDRNOTAVAIL' })
  return opts.iface.ipv4
}

export async function bindMulticast(opts: MulticastBindOptions): Promise<MulticastSocket> {
  let dg: dgram.Socket | undefined
  let joined: { group: string; source?: string }[] = []
  const iface = ifaceArg(opts)
  const socket = await bindUdp({ ...opts, reuseAddr: opts.reuseAddr ?? opts.join !== undefined }, (s) => {
    dg = s
    for (const j of opts.join ?? []) {
      if (j.source) s.addSourceSpecificMembership(j.source, j.group, iface)
      else s.addMembership(j.group, iface)
      joined.push(j)
    }
    if (opts.send) {
      s.setMulticastInterface(iface)
      s.setMulticastTTL(opts.send.ttl)
      s.setMulticastLoopback(opts.send.loopback)
    }
  })
  const leave = () => {
    const memberships = joined
    joined = []
    for (const j of memberships) {
      try {
        if (j.source) dg?.dropSourceSpecificMembership(j.source, j.group, iface)
        else dg?.dropMembership(j.group, iface)
      } catch {
        // Already gone with the socket.
      }
    }
  }
  return {
    local: socket.local,
    via: 'node:dgram',
    send: (data, port, address) => socket.send(data, port, address),
    leave,
    close() {
      leave()
      socket.close()
    },
  }
}
