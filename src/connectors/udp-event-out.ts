import type { ResolvedAddress, UdpSocket } from '../adapter/types.ts'
import type { HalfContext, OutConnector } from '../core/connector.ts'
import type { Endpoint } from '../net/endpoint.ts'
import { resolveConnect } from '../net/resolve.ts'

/** udp/event as --out: every packet is sent as a one-way datagram from one shared socket. */
export function udpEventOut(ctx: HalfContext, endpoint: Endpoint, text: string): OutConnector {
  const log = ctx.logger.child('udp/event')
  let socket: UdpSocket | undefined
  let target!: ResolvedAddress
  return {
    async start() {
      target = (await resolveConnect(ctx.runtime, endpoint, text, ctx.options.family))[0]!
      socket = await ctx.runtime.bindUdp({
        address: target.family === 6 ? '::' : '0.0.0.0',
        port: 0,
        family: target.family,
        broadcast: target.family === 4,
        onMessage: (_data, address, port) => ctx.drops.drop('event_reply', `datagram from ${address}:${port} on the event socket (events are one-way)`),
        onError: (err) => log.warn(err.message),
      })
      log.info(`sending events to ${target.family === 6 ? `[${target.address}]` : target.address}:${endpoint.port}`)
    },
    send(_flow, _kind, _id, payload) {
      ctx.stats.add('udp.sent.event')
      socket!.send(payload, endpoint.port, target.address)
    },
    async close() {
      socket?.close()
    },
  }
}
