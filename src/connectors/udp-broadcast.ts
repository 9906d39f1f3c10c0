import type { UdpSocket } from '../ports/runtime.ts'
import type { HalfContext, OutConnector, PacketKind } from '../core/connector.ts'
import type { Flow } from '../core/flow.ts'
import type { Endpoint } from '../net/endpoint.ts'
import { type UdpSender, udpSender } from './udp-sender.ts'
import { endpointOf, type ConnectorFactory } from '../core/connector.ts'
import { forwardReply, noteSent, UdpFlowState } from './udp-reply-window.ts'
import type { Budget } from '../base/limits.ts'

/**
 * One flow's socket: the flow's out state, released (socket closed) when the flow ends. It holds a
 * place in the half's --max-udp-sockets from its creation until its socket is closed, also when
 * the flow ended while the socket was still opening.
 */
class FlowSocket extends UdpFlowState {
  socket: UdpSocket | undefined = undefined
  /** Packets that arrived while the socket was still binding. */
  waiting: Uint8Array[] | undefined = []
  /** The socket is still being opened: its place is given back once it has come and been closed. */
  private opening = true
  private readonly budget: Budget

  constructor(all: Set<UdpFlowState>, budget: Budget) {
    super(all)
    this.budget = budget
  }

  /** The open settled: with a socket, or none (it failed). */
  opened(socket: UdpSocket | undefined): void {
    this.opening = false
    if (this.released) {
      socket?.close()
      this.budget.give()
    } else {
      this.socket = socket
    }
  }

  protected closeSockets(): void {
    this.waiting = undefined
    if (this.opening) return
    this.socket?.close()
    this.socket = undefined
    this.budget.give()
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

  const limited = ctx.warnings.through(log)
  const openFor = (flow: Flow): FlowSocket | undefined => {
    // The newest flow is refused past the half's limit; flow tables evict before it comes to that.
    if (!ctx.limits.udpSockets.take()) {
      ctx.drops.drop('udp_socket_limit', `${flow.label}: ${ctx.limits.udpSockets.used} UDP sockets open, the limit set by --max-udp-sockets: packet not sent`)
      return undefined
    }
    const state = new FlowSocket(open, ctx.limits.udpSockets)
    flow.out = state
    target.open({
      onMessage: (data, address, fromPort) => {
        if (data.length === 0) {
          ctx.drops.drop('empty_datagram', `zero-length reply from ${address}:${fromPort}`)
          return
        }
        forwardReply(ctx, flow, state, data)
      },
      onError: (err) => limited.warn('udp/broadcast socket error', target.address, `${flow.label}: ${err.message}`),
    }).then((socket) => {
      state.opened(socket)
      if (state.released) return
      for (const p of state.waiting ?? []) socket.send(p, port, target.address)
      state.waiting = undefined
    }, (err) => {
      // Counted and logged once a second at most: a flood that runs out of descriptors must not flood the log.
      ctx.drops.drop('udp_socket', `${flow.label}: cannot open a UDP socket: ${(err as Error).message}`)
      state.waiting = undefined
      if (flow.out === state) flow.out = undefined
      state.release()
      state.opened(undefined)
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
      if (!state) return
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
