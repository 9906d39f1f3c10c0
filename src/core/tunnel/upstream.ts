import type { Flow } from '../flow.ts'
import { unrefTimer } from '../flow.ts'
import type { HalfContext, PacketKind, PacketSink } from '../connector.ts'
import { Kind, type Frame } from '../../protocol/frame.ts'
import type { Session } from './session.ts'
import type { Wire } from '../../protocol/wire.ts'

interface SessionState {
  session: Session
  /** edgerelay wires: wire flow id per local flow, and back. */
  wireIds: Map<Flow, number>
  flows: Map<number, Flow>
  nextWireId: number
  /** uhppoted wire (no flow field): request id → flow, until the reply window ends. */
  pending: Map<number, { flow: Flow; expires: number }>
}

interface Queued {
  flow: Flow
  kind: PacketKind
  id: number
  payload: Uint8Array
}

/**
 * The tunnel used as an out connector: sends local flows' packets to the peer half(s) and routes
 * replies back by flow. Wire flow ids belong to one connection, so a reply can only ever reach a
 * flow that was sent on that same connection (several near halves, restarts: no cross-talk).
 * Several connected peers (a reverse tunnel with many far halves) each get every packet, as
 * uhppoted-tunnel does.
 */
export class Upstream implements PacketSink {
  private readonly ctx: HalfContext
  private readonly wire: Wire
  private readonly sessions = new Set<SessionState>()
  private queue: Queued[] = []
  private queuedBytes = 0
  private sweeper: ReturnType<typeof setInterval> | undefined

  constructor(ctx: HalfContext, wire: Wire) {
    this.ctx = ctx
    this.wire = wire
  }

  get connected(): number {
    return this.sessions.size
  }

  attach(session: Session): void {
    const state: SessionState = { session, wireIds: new Map(), flows: new Map(), nextWireId: 1, pending: new Map() }
    this.sessions.add(state)
    session.onFrame = (frame) => this.onFrame(state, frame)
    session.onClose(() => {
      this.sessions.delete(state)
      state.wireIds.clear()
      state.flows.clear()
      state.pending.clear()
    })
    if (!this.wire.carriesFlows) this.sweeper ??= unrefTimer(setInterval(() => this.sweepPending(), 1000))
    this.flushQueue()
  }

  send(flow: Flow, kind: PacketKind, id: number, payload: Uint8Array): void {
    if (this.sessions.size === 0) {
      this.enqueue(flow, kind, id, payload)
      return
    }
    for (const state of this.sessions) this.sendOn(state, flow, kind, id, payload)
  }

  close(): void {
    if (this.sweeper !== undefined) clearInterval(this.sweeper)
    // Dropped on purpose and counted, but not logged: a shutdown prints only its own line.
    if (this.queue.length > 0) this.ctx.stats.add('dropped.shutdown', this.queue.length)
    this.queue = []
    this.queuedBytes = 0
  }

  private sendOn(state: SessionState, flow: Flow, kind: PacketKind, id: number, payload: Uint8Array): void {
    let wireFlow = 0
    if (this.wire.carriesFlows) {
      wireFlow = state.wireIds.get(flow) ?? this.assignWireId(state, flow)
    } else if (kind === 'request') {
      state.pending.set(id, { flow, expires: Date.now() + this.ctx.options.udpTimeoutMs + 1000 })
    }
    state.session.send({ flow: wireFlow, id, kind: kind === 'request' ? Kind.request : Kind.event, payload })
    this.ctx.stats.add(kind === 'request' ? 'tunnel.sent.request' : 'tunnel.sent.event')
  }

  private assignWireId(state: SessionState, flow: Flow): number {
    let id = state.nextWireId
    // u32 without 0; skip ids still in use after a wrap.
    while (state.flows.has(id) || id === 0) id = (id + 1) >>> 0
    state.nextWireId = (id + 1) >>> 0
    state.wireIds.set(flow, id)
    state.flows.set(id, flow)
    flow.onClose(() => {
      if (state.flows.get(id) === flow) state.flows.delete(id)
      state.wireIds.delete(flow)
    })
    return id
  }

  private onFrame(state: SessionState, frame: Frame): void {
    if (frame.kind !== Kind.reply) {
      this.ctx.drops.drop('unexpected_kind', `peer ${state.session.label} sent a ${frame.kind === Kind.request ? 'request' : 'event'} to the sending side of the tunnel`)
      return
    }
    if (frame.payload.length === 0) {
      this.ctx.drops.drop('empty_payload', `zero-length reply from ${state.session.label}`)
      return
    }
    const flow = this.wire.carriesFlows ? state.flows.get(frame.flow) : state.pending.get(frame.id)?.flow
    if (!flow || flow.closed) {
      this.ctx.drops.drop('reply_unknown_flow', `reply for ${this.wire.carriesFlows ? `flow ${frame.flow}` : `request ${frame.id}`} that has no live flow on this connection`)
      return
    }
    this.ctx.stats.add('tunnel.received.reply')
    flow.reply(frame.id, frame.payload)
  }

  private enqueue(flow: Flow, kind: PacketKind, id: number, payload: Uint8Array): void {
    const { queueMaxPackets, queueMaxBytes } = this.ctx.options
    if (this.queue.length >= queueMaxPackets || this.queuedBytes + payload.length > queueMaxBytes) {
      this.ctx.drops.drop('queue_full', `no tunnel connected and the queue holds ${this.queue.length} packets / ${this.queuedBytes} bytes`)
      return
    }
    // The payload may be a view into a buffer the receiver reuses: keep a copy.
    this.queue.push({ flow, kind, id, payload: payload.slice() })
    this.queuedBytes += payload.length
  }

  private flushQueue(): void {
    const queued = this.queue
    this.queue = []
    this.queuedBytes = 0
    for (const q of queued) {
      if (q.flow.closed) this.ctx.drops.drop('flow_closed', `queued packet of ${q.flow.label} outlived its flow`)
      else this.send(q.flow, q.kind, q.id, q.payload)
    }
  }

  private sweepPending(): void {
    const now = Date.now()
    for (const state of this.sessions) for (const [id, p] of state.pending) if (p.expires <= now) state.pending.delete(id)
  }
}
