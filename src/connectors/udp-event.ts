import type { UdpSocket } from '../ports/runtime.ts'
import type { HalfContext, OutConnector } from '../core/connector.ts'
import type { Endpoint } from '../net/endpoint.ts'
import { type UdpSender, udpSender } from './udp-sender.ts'
import { endpointOf, type ConnectorFactory } from '../core/connector.ts'
import { udpListenIn } from './udp-listen.ts'

/** udp/event as --out: every packet is sent as a one-way datagram from one shared socket. */
export function udpEventOut(ctx: HalfContext, endpoint: Endpoint, text: string): OutConnector {
  const log = ctx.logger.child('udp/event')
  let socket: UdpSocket | undefined
  let target!: UdpSender
  return {
    async start() {
      target = await udpSender(ctx, endpoint, text, log, true)
      socket = await target.open({
        onMessage: (_data, address, port) => ctx.drops.drop('event_reply', `datagram from ${address}:${port} on the event socket (events are one-way)`),
        onError: (err) => log.warn(err.message),
      })
      log.info(`sending events to ${target.describe}`)
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

/** udp/event: in, one-way datagrams from local clients; out, datagrams sent one way. */
export const udpEventConnector: ConnectorFactory = {
  in: (s, ctx) => udpListenIn(ctx, endpointOf(s), s.text, 'event'),
  out: (s, ctx) => udpEventOut(ctx, endpointOf(s), s.text),
}
