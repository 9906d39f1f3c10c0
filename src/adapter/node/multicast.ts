/**
 * Multicast (docs/addresses.md#multicast-mc) on any socket with node:dgram's multicast methods: node:dgram
 * itself (Node; Deno for what Deno.listenDatagram cannot do) and Bun.udpSocket, which has the same
 * method names.
 */
import type dgram from 'node:dgram'
import type { MulticastBindOptions, MulticastSocket, UdpBindOptions, UdpSocket } from '../../ports/runtime.ts'
import { bindUdp } from './udp.ts'

/** The multicast methods node:dgram and Bun.udpSocket share. */
export type MulticastOps = Pick<dgram.Socket, 'addMembership' | 'dropMembership' | 'addSourceSpecificMembership' | 'dropSourceSpecificMembership' | 'setMulticastInterface' | 'setMulticastTTL' | 'setMulticastLoopback'>

/** Binds a socket and runs `setup` on it before handing it out (closing it if setup throws). */
export type BindWithSetup = (opts: UdpBindOptions, setup: (socket: MulticastOps) => void) => Promise<UdpSocket>

/** IPv4 interfaces are named by address, IPv6 ones as `::%name`. */
function ifaceArg(opts: MulticastBindOptions): string {
  if (opts.family === 6) return `::%${opts.iface.name}`
  if (!opts.iface.ipv4) throw Object.assign(new Error(`interface ${opts.iface.name} has no IPv4 address`), { code: 'EADDRNOTAVAIL' })
  return opts.iface.ipv4
}

/** bindMulticast over a socket type with node:dgram's multicast methods. */
export function multicastOver(bind: BindWithSetup, via: string): (opts: MulticastBindOptions) => Promise<MulticastSocket> {
  return async (opts) => {
    let ops: MulticastOps | undefined
    let joined: { group: string; source?: string }[] = []
    const iface = ifaceArg(opts)
    const socket = await bind({ ...opts, reuseAddr: opts.reuseAddr ?? opts.join !== undefined }, (s) => {
      ops = s
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
          if (j.source) ops?.dropSourceSpecificMembership(j.source, j.group, iface)
          else ops?.dropMembership(j.group, iface)
        } catch {
          // Already gone with the socket.
        }
      }
    }
    return {
      local: socket.local,
      via,
      send: (data, port, address) => socket.send(data, port, address),
      leave,
      close() {
        leave()
        socket.close()
      },
    }
  }
}

export const bindMulticast = multicastOver(bindUdp, 'node:dgram')
