/**
 * udp/listen on a multicast group: the group family's wildcard bound with SO_REUSEADDR, and the
 * group joined on the named interface, optionally from one source (docs/addresses.md MC1–MC3, MC6).
 */
import { RelayError } from '../../base/errors.ts'
import type { HalfContext } from '../../core/connector.ts'
import type { Endpoint } from '../../net/endpoint.ts'
import { multicastPlan } from '../../net/multicast.ts'
import type { ListenSockets } from './sockets.ts'

export async function joinGroup(ctx: HalfContext, endpoint: Endpoint, text: string, sockets: ListenSockets): Promise<void> {
  const rt = ctx.runtime
  const plan = multicastPlan(rt, endpoint, text)
  if (!rt.bindMulticast) throw new RelayError('E_UNSUPPORTED_ON_RUNTIME', `${text}: the ${rt.name} runtime has no multicast`)
  const bindMulticast = rt.bindMulticast.bind(rt)
  let via = ''
  const socket = await sockets.serve(plan.group, async (onMessage) => {
    const mc = await bindMulticast({
      address: plan.family === 6 ? '::' : '0.0.0.0',
      port: endpoint.port,
      family: plan.family,
      ipv6Only: plan.family === 6,
      reuseAddr: true,
      iface: plan.iface,
      join: [{ group: plan.group, ...(plan.source ? { source: plan.source } : {}) }],
      onMessage,
      onError: (err) => sockets.log.warn(`socket error on group ${plan.group}: ${err.message}`),
    })
    via = mc.via
    return mc
  })
  sockets.log.info(`joined ${plan.group}${plan.source ? ` from ${plan.source}` : ''} on ${plan.iface.name}, port ${socket.local.port} (${via})`)
}
