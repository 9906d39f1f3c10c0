import type { UdpSocket } from '../ports/runtime.ts'
import type { HalfContext, OutConnector, PacketKind } from '../core/connector.ts'
import type { Flow } from '../core/flow.ts'
import type { Endpoint } from '../net/endpoint.ts'
import { type UdpSender, udpSender } from './udp-sender.ts'
import { endpointOf, type ConnectorFactory } from '../core/connector.ts'
import { forwardReply, noteSent, UdpFlowState } from './udp-reply-window.ts'

/** One flow's socket: the flow's out state, released (socket closed) when the flow ends. */
class FlowSocket extends UdpFlowState {
  socket: UdpSocket | undefined = undefined
  /** Packets that arrived while the socket was still binding. */
  waiting: Uint8Array[] | undefined = []

  protected closeSockets(): void {
    this.socket?.close()
    this.socket = undefined
    this.waiting = undefined
  }
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
  /** Every open flow socket, for close(). */
  const open = new Set<FlowSocket>()
  let target!: UdpSender
  const port = endpoint.port

  const openFor = (flow: Flow): FlowSocket => {
    const state = new FlowSocket(open)
    flow.out = state
    target.open({
      onMessage: (data, address, fromPort) => {
        if (data.length === 0) {
          ctx.drops.drop('empty_datagram', `zero-length reply from ${address}:${fromPort}`)
          return
        }
        forwardReply(ctx, flow, state, data)
      },
      onError: (err) => log.warn(`${flow.label}: ${err.message}`),
    }).then((socket) => {
      if (state.released) {
        socket.close()
        return
      }
      state.socket = socket
      for (const p of state.waiting ?? []) socket.send(p, port, target.address)
      state.waiting = undefined
    }, (err) => {
      log.warn(`${flow.label}: cannot open a UDP socket: ${(err as Error).message}`)
      for (const _ of state.waiting ?? []) ctx.drops.drop('udp_socket', `${flow.label}: no socket`)
      state.waiting = undefined
      if (flow.out === state) flow.out = undefined
      state.release()
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
      const state = (flow.out as FlowSocket | undefined) ?? openFor(flow)
      noteSent(ctx, state, kind, id)
      if (state.socket) {
        state.socket.send(payload, port, target.address)
      } else if (state.waiting && state.waiting.length < MAX_WAITING) {
        state.waiting.push(payload.slice())
      } else {
        ctx.drops.drop('udp_socket_pending', `${flow.label}: socket not ready and ${MAX_WAITING} packets already wait`)
      }
    },
    async close() {
      for (const state of [...open]) state.release()
    },
  }
}

export const udpBroadcastConnector: ConnectorFactory = { out: (s, ctx) => udpBroadcastOut(ctx, endpointOf(s), s.text) }
