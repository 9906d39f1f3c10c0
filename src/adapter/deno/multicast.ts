/**
 * Multicast on Deno. Receiving uses Deno.listenDatagram's joinMulticastV4/V6 (its node:dgram
 * receives only ~1k datagrams/s). Deno's native API has no multicast-interface or TTL setter for
 * sending and no source-specific joins, so senders and source-specific receivers fall back to
 * node:dgram, which on Deno has all of them (docs/runtimes.md#udp); `via` says which was used.
 */
import type { MulticastBindOptions, MulticastSocket } from '../../ports/runtime.ts'
import { bindMulticast as bindNodeMulticast } from '../node/multicast.ts'
import { bindNativeUdp, type DenoMembership, hasNativeUdp } from './udp.ts'

export async function bindMulticast(opts: MulticastBindOptions): Promise<MulticastSocket> {
  const join = opts.join ?? []
  const fallback = !hasNativeUdp ? 'no --unstable-net' : opts.send ? 'Deno.listenDatagram cannot choose the sending interface or TTL' : join.some((j) => j.source) ? 'Deno.listenDatagram has no source-specific joins' : undefined
  if (fallback) {
    const socket = await bindNodeMulticast(opts)
    return { ...socket, via: `node:dgram (${fallback})` }
  }
  let memberships: DenoMembership[] = []
  const socket = await bindNativeUdp({ ...opts, reuseAddr: opts.reuseAddr ?? true }, async (conn) => {
    for (const j of join) {
      if (opts.family === 6) memberships.push(await conn.joinMulticastV6!(j.group, opts.iface.index))
      else {
        if (!opts.iface.ipv4) throw Object.assign(new Error(`interface ${opts.iface.name} has no IPv4 address`), { code: 'EADDRNOTAVAIL' })
        memberships.push(await conn.joinMulticastV4!(j.group, opts.iface.ipv4))
      }
    }
  })
  const leave = () => {
    const list = memberships
    memberships = []
    for (const m of list) m.leave().catch(() => {})
  }
  return {
    local: socket.local,
    via: 'Deno.listenDatagram',
    send: (data, port, address) => socket.send(data, port, address),
    leave,
    close() {
      leave()
      socket.close()
    },
  }
}
