import type { HalfContext, PacketKind } from '../core/connector.ts'
import type { Flow, FlowState } from '../core/flow.ts'

/** The request of a flow whose --udp-timeout window is open, and when it closes. */
export interface ReplyWindow {
  requestId: number
  windowEnd: number
}

/** Counts a packet sent for a flow; a request opens its reply window. */
export function noteSent(ctx: HalfContext, w: ReplyWindow, kind: PacketKind, id: number): void {
  if (kind === 'request') {
    w.requestId = id
    w.windowEnd = Date.now() + ctx.options.udpTimeoutMs
  }
  ctx.stats.add(kind === 'request' ? 'udp.sent.request' : 'udp.sent.event')
}

/** Hands a reply to its flow at once: with the request's id inside the window, id 0 after it. */
export function forwardReply(ctx: HalfContext, flow: Flow, w: ReplyWindow, data: Uint8Array): void {
  const inWindow = Date.now() <= w.windowEnd
  ctx.stats.add(inWindow ? 'udp.replies' : 'udp.late_replies')
  flow.reply(inWindow ? w.requestId : 0, data)
}

/**
 * The out state of one flow of a UDP out connector: its reply window, and membership in the
 * connector's set of live states (so closing the connector closes every socket) until released.
 */
export abstract class UdpFlowState implements FlowState, ReplyWindow {
  requestId = 0
  windowEnd = 0
  released = false
  private readonly all: Set<UdpFlowState>

  constructor(all: Set<UdpFlowState>) {
    this.all = all
    all.add(this)
  }

  release(): void {
    if (this.released) return
    this.released = true
    this.all.delete(this)
    this.closeSockets()
  }

  /** Closes what the flow holds (its sockets, timers). */
  protected abstract closeSockets(): void
}
