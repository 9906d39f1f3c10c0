/** Multicast on Bun: Bun.udpSocket has node:dgram's multicast methods under the same names. */
import { multicastOver } from '../node/multicast.ts'
import { bindUdp } from './udp.ts'

export const bindMulticast = multicastOver(bindUdp, 'Bun.udpSocket')
