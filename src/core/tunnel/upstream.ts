import { unrefTimer } from '../../base/clock.ts'
import type { Flow, FlowState } from '../flow.ts'
import type { HalfContext, PacketKind, PacketSink } from '../connector.ts'
import { Kind, type Frame } from '../../protocol/frame.ts'
import type { Session } from './session.ts'
import { RoundTrips, type RequestTiming } from './round-trips.ts'

/** One tunnel connection as the sending side sees it. */
class Connection {
  readonly session: Session
  /** edgerelay wires: the local flow behind each wire flow id of this connection. */
  readonly flows = new Map<number, Flow>()
  nextWireId = 1
  /** uhppoted wire (no flow field): request id → flow, until the reply window ends. */
  readonly pending = new Map<number, RequestTiming & { flow: Flow; expires: number }>()

  constructor(session: Session) {
    this.session = session
  }

  get carriesFlows(): boolean {
    return this.session.wire!.carriesFlows
  }
}

/**
 * A flow's wire ids on the connections it was sent on: the flow's out state. Released with the
 * flow (its ids are free again) or dropped link by link when a connection ends.
 */
class WireIds implements FlowState {
  private readonly flow: Flow
  /** Usually one connection; a reverse tunnel with several far halves sends every packet to each. */
  links: { conn: Connection; id: number }[] = []
  /** The request being timed for the round-trip histogram: one per flow at a time (a sample). */
  readonly timing: RequestTiming = { id: -1, at: 0 }

  constructor(flow: Flow) {
    this.flow = flow
  }

  idOn(conn: Connection): number | undefined {
    for (const l of this.links) if (l.conn === conn) return l.id
    return undefined
  }

  release(): void {
    for (const l of this.links) if (l.conn.flows.get(l.id) === this.flow) l.conn.flows.delete(l.id)
    this.links = []
  }
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
 * uhppoted-tunnel does. Each connection has its own wire (a server with codec auto serves
 * edgerelay and uhppoted-tunnel peers side by side).
 */
export class Upstream implements PacketSink {
  /** `flow.dst` travels in the frames, for the other half's out connector. */
  readonly takesDestinations = true
  private readonly ctx: HalfContext
  private readonly connections = new Set<Connection>()
  private queue: Queued[] = []
  private queuedBytes = 0
  private sweeper: ReturnType<typeof setInterval> | undefined
  private readonly roundTrips: RoundTrips

  constructor(ctx: HalfContext) {
    this.ctx = ctx
    this.roundTrips = new RoundTrips(ctx.stats.histogram('tunnel.request_rtt'), ctx.options.udpTimeoutMs)
    ctx.stats.gauge('tunnel.queue_packets', () => this.queue.length)
    ctx.stats.gauge('tunnel.queue_bytes', () => this.queuedBytes)
  }

  get connected(): number {
    return this.connections.size
  }

  attach(session: Session): void {
    const conn = new Connection(session)
    this.connections.add(conn)
    session.onFrame = (frame) => this.onFrame(conn, frame)
    session.onClose(() => {
      this.connections.delete(conn)
      for (const flow of conn.flows.values()) {
        const ids = flow.out as WireIds | undefined
        if (ids) ids.links = ids.links.filter((l) => l.conn !== conn)
      }
      conn.flows.clear()
      conn.pending.clear()
    })
    if (!conn.carriesFlows) this.sweeper ??= unrefTimer(setInterval(() => this.sweepPending(), 1000))
    this.flushQueue()
  }

  send(flow: Flow, kind: PacketKind, id: number, payload: Uint8Array): void {
    if (this.connections.size === 0) {
      this.enqueue(flow, kind, id, payload)
      return
    }
    for (const conn of this.connections) this.sendOn(conn, flow, kind, id, payload)
  }

  close(): void {
    if (this.sweeper !== undefined) clearInterval(this.sweeper)
    // Dropped on purpose and counted, but not logged: a shutdown prints only its own line.
    if (this.queue.length > 0) this.ctx.stats.add('dropped.shutdown', this.queue.length)
    this.queue = []
    this.queuedBytes = 0
  }

  private sendOn(conn: Connection, flow: Flow, kind: PacketKind, id: number, payload: Uint8Array): void {
    let wireFlow = 0
    if (conn.carriesFlows) {
      wireFlow = this.wireIdOf(conn, flow)
      if (kind === 'request') this.roundTrips.sent((flow.out as WireIds).timing, id)
    } else if (kind === 'request') {
      const pending = { flow, expires: Date.now() + this.ctx.options.udpTimeoutMs + 1000, id: -1, at: 0 }
      this.roundTrips.sent(pending, id)
      conn.pending.set(id, pending)
    }
    const frame: Frame = { flow: wireFlow, id, kind: kind === 'request' ? Kind.request : Kind.event, payload }
    // A flow addressed by its in connector (SOCKS5 UDP ASSOCIATE) says where to, in every frame: datagrams have no order to rely on.
    if (flow.dst !== undefined) frame.dst = flow.dst
    conn.session.send(frame)
    this.ctx.stats.add(kind === 'request' ? 'tunnel.sent.request' : 'tunnel.sent.event')
    this.ctx.stats.add(kind === 'request' ? 'tunnel.sent_bytes.request' : 'tunnel.sent_bytes.event', payload.length)
  }

  private wireIdOf(conn: Connection, flow: Flow): number {
    let ids = flow.out as WireIds | undefined
    const known = ids?.idOn(conn)
    if (known !== undefined) return known
    if (!ids) flow.out = ids = new WireIds(flow)
    let id = conn.nextWireId
    // u32 without 0; skip ids still in use after a wrap.
    while (conn.flows.has(id) || id === 0) id = (id + 1) >>> 0
    conn.nextWireId = (id + 1) >>> 0
    conn.flows.set(id, flow)
    ids.links.push({ conn, id })
    return id
  }

  private onFrame(conn: Connection, frame: Frame): void {
    const label = conn.session.label
    if (frame.kind !== Kind.reply) {
      this.ctx.drops.drop('unexpected_kind', `peer ${label} sent a ${frame.kind === Kind.request ? 'request' : 'event'} to the sending side of the tunnel`)
      return
    }
    if (frame.payload.length === 0) {
      this.ctx.drops.drop('empty_payload', `zero-length reply from ${label}`)
      return
    }
    const pending = conn.carriesFlows ? undefined : conn.pending.get(frame.id)
    const flow = conn.carriesFlows ? conn.flows.get(frame.flow) : pending?.flow
    if (!flow || flow.closed) {
      this.ctx.drops.drop('reply_unknown_flow', `reply for ${conn.carriesFlows ? `flow ${frame.flow}` : `request ${frame.id}`} that has no live flow on this connection`)
      return
    }
    this.ctx.stats.add('tunnel.received.reply')
    this.ctx.stats.add('tunnel.received_bytes.reply', frame.payload.length)
    const timing = pending ?? (flow.out as WireIds | undefined)?.timing
    if (timing) this.roundTrips.replied(timing, frame.id)
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
    for (const conn of this.connections) for (const [id, p] of conn.pending) if (p.expires <= now) conn.pending.delete(id)
  }
}
