/**
 * Where the udp out connectors (udp/broadcast, udp/event) send and which socket they send from:
 * a unicast or broadcast target from the local bind (`bind=`, `sourceport=`, `::iface:` prefix;
 * docs/addresses.md M1–M4), or a multicast group with its interface, TTL and loopback set explicitly (MC4).
 */
import type { Family, UdpBindOptions, UdpSocket } from '../ports/runtime.ts'
import type { HalfContext } from '../core/connector.ts'
import { RelayError } from '../base/errors.ts'
import type { Logger } from '../base/logger.ts'
import type { Endpoint } from '../net/endpoint.ts'
import { filterForLocal, localBindOf } from '../net/family.ts'
import { checkNotMulticastOptions, isMulticastHost, type MulticastPlan, multicastPlan } from '../net/multicast.ts'
import { literalOf, resolveConnect } from '../net/resolve.ts'
import { hostPort } from '../base/address.ts'

export interface UdpSender {
  /** Address and family datagrams go to. */
  address: string
  family: Family
  port: number
  /** For logs: `127.0.0.1:5353`, `group 239.1.2.3:5000 on eth0 (ttl 1, loopback off)`. */
  describe: string
  /** Opens a socket to send from (replies arrive on it). */
  open(opts: Pick<UdpBindOptions, 'onMessage' | 'onError'>): Promise<UdpSocket>
}


/** Resolves the target and plans the sending socket; `shared` = one socket for all traffic (sourceport= allowed). */
export async function udpSender(ctx: HalfContext, endpoint: Endpoint, text: string, log: Logger, shared: boolean): Promise<UdpSender> {
  const rt = ctx.runtime
  const port = endpoint.port
  checkNotMulticastOptions(endpoint, text)
  if (isMulticastHost(endpoint)) {
    const plan: MulticastPlan = multicastPlan(rt, endpoint, text)
    if (!rt.bindMulticast) throw new RelayError('E_UNSUPPORTED_ON_RUNTIME', `${text}: the ${rt.name} runtime has no multicast`)
    const bindMulticast = rt.bindMulticast.bind(rt)
    const address = literalOf(endpoint)
    let via = ''
    return {
      address,
      family: plan.family,
      port,
      get describe() {
        return `group ${hostPort(address, port)} on ${plan.iface.name} (ttl ${plan.ttl}, loopback ${plan.loopback ? 'on' : 'off'}${via ? `, ${via}` : ''})`
      },
      async open(o) {
        const s = await bindMulticast({ ...o, address: plan.family === 6 ? '::' : '0.0.0.0', port: 0, family: plan.family, iface: plan.iface, send: { ttl: plan.ttl, loopback: plan.loopback } })
        via = s.via
        return s
      },
    }
  }
  const local = localBindOf(rt, endpoint, text)
  if (local?.port !== undefined && !shared) {
    throw new RelayError('E_CONFIG', `${text}: sourceport= cannot be used here: this connector opens one socket per flow`)
  }
  const found = filterForLocal(rt, await resolveConnect(rt, endpoint, text, ctx.options.family), local, text, (m) => log.warn(m))
  const target = found[0]!
  const from = local?.addressFor(target)
  return {
    address: target.address,
    family: target.family,
    port,
    describe: `${hostPort(target.address, port)}${from ? ` from ${from}` : ''}`,
    open: (o) => rt.bindUdp({
      ...o,
      address: from ?? (target.family === 6 ? '::' : '0.0.0.0'),
      port: local?.port ?? 0,
      family: target.family,
      broadcast: target.family === 4,
    }),
  }
}
