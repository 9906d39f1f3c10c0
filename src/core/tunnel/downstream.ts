import { Flow } from '../flow.ts'
import { FlowTable } from '../flow-table.ts'
import type { HalfContext, PacketSink } from '../connector.ts'
import { Kind, type Frame } from '../../protocol/frame.ts'
import type { Session } from './session.ts'

/**
 * The tunnel used as an in connector: requests and events arriving from the peer half become
 * local flows handed to the out connector; replies go back on the connection they came from.
 * Each connection owns its flows (one FlowTable), so peers never see each other's replies and a
 * lost connection ends exactly its flows.
 */
export class Downstream {
  private readonly ctx: HalfContext
  private readonly out: PacketSink
  private readonly tables = new Set<FlowTable<number>>()

  constructor(ctx: HalfContext, out: PacketSink) {
    this.ctx = ctx
    this.out = out
    ctx.stats.gauge('flows.open', () => this.flowCount)
  }

  attach(session: Session): void {
    // Without flow ids (uhppoted) every request is its own flow (its own socket, as in
    // uhppoted-tunnel, so replies match their request), living one reply window. Both kinds are
    // bounded per connection: past the bound the least recently used is closed and counted.
    const { flowIdleMs, udpTimeoutMs, maxFlowsPerTunnel, maxReplyWindows } = this.ctx.options
    const carriesFlows = session.wire!.carriesFlows
    const max = carriesFlows ? maxFlowsPerTunnel : maxReplyWindows
    const budget = this.ctx.limits.flows
    // Built on the first datagram: an idle connection that never carries one costs no table.
    let table: FlowTable<number> | undefined
    const tableFor = () => {
      if (table) return table
      table = new FlowTable<number>({
        idleMs: carriesFlows ? flowIdleMs : udpTimeoutMs + 1000,
        maxSize: max,
        // The half's bound across all connections: at it, the connection holding most flows gives one up.
        budget,
        onEvict: (flow, cause) => this.ctx.drops.drop(carriesFlows ? 'flow_evicted' : 'reply_window_evicted', cause === 'half'
          ? `${flow.label}: the half holds ${budget.max} flows (--max-flows) and this connection the most: closed its least recently used`
          : `${flow.label}: more than ${max} ${carriesFlows ? 'flows' : 'requests awaiting replies'} on one tunnel connection, closed the least recently used`),
        onIdle: (flow) => {
          this.ctx.stats.add(carriesFlows ? 'tunnel.flows_idle_closed' : 'tunnel.reply_windows_ended')
          if (carriesFlows) this.ctx.logger.debug(`${flow.label} idle: closed`)
        },
      })
      this.tables.add(table)
      return table
    }
    session.onFrame = (frame) => this.onFrame(session, carriesFlows, tableFor, frame)
    session.onClose(() => {
      if (!table) return
      table.closeAll()
      this.tables.delete(table)
    })
  }

  close(): void {
    for (const table of this.tables) table.closeAll()
    this.tables.clear()
  }

  get flowCount(): number {
    let n = 0
    for (const t of this.tables) n += t.size
    return n
  }

  private onFrame(session: Session, carriesFlows: boolean, tableFor: () => FlowTable<number>, frame: Frame): void {
    if (frame.kind !== Kind.request && frame.kind !== Kind.event) {
      this.ctx.drops.drop('unexpected_kind', `peer ${session.label} sent a reply to the receiving side of the tunnel`)
      return
    }
    if (frame.payload.length === 0) {
      this.ctx.drops.drop('empty_payload', `zero-length packet from ${session.label}`)
      return
    }
    const key = carriesFlows ? frame.flow : frame.id
    const table = tableFor()
    let flow = table.get(key)
    if (frame.dst !== undefined && !this.out.takesDestinations) {
      this.ctx.drops.drop('destination_unsupported', `peer ${session.label} sent a datagram for ${frame.dst.slice(0, 300)} (a SOCKS5 UDP association): this half's --out sends datagrams to its own destination; the far half of a SOCKS5 listener runs --out tcp/dial`)
      return
    }
    if (flow && flow.dst !== frame.dst) {
      this.ctx.drops.drop('flow_destination', `peer ${session.label} sent flow ${key} a datagram for ${frame.dst?.slice(0, 300) ?? 'no destination'}, but the flow goes to ${flow.dst ?? 'the --out destination'}`)
      return
    }
    if (!flow) {
      const wireFlow = carriesFlows ? frame.flow : 0
      const stats = this.ctx.stats
      flow = new Flow(`${session.label} flow ${key}`, (id, payload) => {
        session.send({ flow: wireFlow, id, kind: Kind.reply, payload })
        stats.add('tunnel.sent.reply')
        stats.add('tunnel.sent_bytes.reply', payload.length)
      }, Date.now())
      if (frame.dst !== undefined) flow.dst = frame.dst
      table.add(key, flow)
    } else {
      flow.touch()
    }
    const isRequest = frame.kind === Kind.request
    this.ctx.stats.add(isRequest ? 'tunnel.received.request' : 'tunnel.received.event')
    this.ctx.stats.add(isRequest ? 'tunnel.received_bytes.request' : 'tunnel.received_bytes.event', frame.payload.length)
    this.out.send(flow, isRequest ? 'request' : 'event', frame.id, frame.payload)
  }
}
