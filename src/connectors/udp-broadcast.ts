import type { UdpSocket } from '../ports/runtime.ts'
import type { HalfContext, OutConnector, PacketKind } from '../core/connector.ts'
import type { Flow } from '../core/flow.ts'
import type { Endpoint } from '../net/endpoint.ts'
import { type UdpSender, udpSender } from './udp-sender.ts'
import { endpointOf, type ConnectorFactory } from '../core/connector.ts'

interface FlowSocket {
  socket: UdpSocket | undefined
  /** Packets that arrived while the socket was still binding. */
  waiting: Uint8Array[] | undefined
  /** The request whose reply window is open, and when it closes. */
  requestId: number
  windowEnd: number
}

const MAX_WAITING = 64

/**
 * udp/broadcast as --out: one socket per flow (SO_BROADCAST on), so every reply, several replies
 * to one broadcast, late replies and datagrams the device sends unasked all find their flow.
 * Replies are forwarded the moment they arrive. A reply inside the request's --udp-timeout window
 * carries the request id; after it, id 0 (the wait is over, the flow lives on until idle).
 */
export function udpBroadcastOut(ctx: HalfContext, endpoint: Endpoint, text: string): OutConnector {
  const log = ctx.logger.child('udp/broadcast')
  const perFlow = new Map<Flow, FlowSocket>()
  let target!: UdpSender
  const port = endpoint.port

  const open = (flow: Flow): FlowSocket => {
    const state: FlowSocket = { socket: undefined, waiting: [], requestId: 0, windowEnd: 0 }
    perFlow.set(flow, state)
    target.open({
      onMessage: (data, address, fromPort) => {
        if (data.length === 0) {
          ctx.drops.drop('empty_datagram', `zero-length reply from ${address}:${fromPort}`)
          return
        }
        const inWindow = Date.now() <= state.windowEnd
        ctx.stats.add(inWindow ? 'udp.replies' : 'udp.late_replies')
        flow.reply(inWindow ? state.requestId : 0, data)
      },
      onError: (err) => log.warn(`${flow.label}: ${err.message}`),
    }).then((socket) => {
      if (flow.closed) {
        socket.close()
        return
      }
      state.socket = socket
      for (const p of state.waiting ?? []) socket.send(p, port, target.address)
      state.waiting = undefined
    }, (err) => {
      log.warn(`${flow.label}: cannot open a UDP socket: ${(err as Error).message}`)
      perFlow.delete(flow)
      for (const _ of state.waiting ?? []) ctx.drops.drop('udp_socket', `${flow.label}: no socket`)
    })
    flow.onClose(() => {
      perFlow.delete(flow)
      state.socket?.close()
    })
    return state
  }

  return {
    async start() {
      target = await udpSender(ctx, endpoint, text, log, false)
      log.info(`sending to ${target.describe}`)
    },
    send(flow: Flow, kind: PacketKind, id: number, payload: Uint8Array) {
      if (flow.closed) return
      const state = perFlow.get(flow) ?? open(flow)
      if (kind === 'request') {
        state.requestId = id
        state.windowEnd = Date.now() + ctx.options.udpTimeoutMs
      }
      ctx.stats.add(kind === 'request' ? 'udp.sent.request' : 'udp.sent.event')
      if (state.socket) {
        state.socket.send(payload, port, target.address)
      } else if (state.waiting && state.waiting.length < MAX_WAITING) {
        state.waiting.push(payload.slice())
      } else {
        ctx.drops.drop('udp_socket_pending', `${flow.label}: socket not ready and ${MAX_WAITING} packets already wait`)
      }
    },
    async close() {
      for (const state of perFlow.values()) state.socket?.close()
      perFlow.clear()
    },
  }
}

export const udpBroadcastConnector: ConnectorFactory = { out: (s, ctx) => udpBroadcastOut(ctx, endpointOf(s), s.text) }
