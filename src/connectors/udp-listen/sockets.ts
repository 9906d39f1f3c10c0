/**
 * What every start mode of udp/listen shares: the listening sockets and the flows of their
 * clients. Each local client (socket, address, port) is one flow (docs/addresses.md U2), owned by
 * one FlowTable; its replies leave from the socket it sent to.
 */
import { formatAddress } from '../../base/address.ts'
import type { Logger } from '../../base/logger.ts'
import type { HalfContext, PacketKind, PacketSink } from '../../core/connector.ts'
import { Flow } from '../../core/flow.ts'
import { FlowTable } from '../../core/flow-table.ts'
import type { ResolvedAddress, SocketAddress, UdpBindOptions, UdpSocket } from '../../ports/runtime.ts'
import { MAX_DATAGRAM } from '../../protocol/frame.ts'

/** What a user of ListenSockets may change: its log name and which sources it serves. */
export interface ListenSocketsOptions {
  /** Logger name (default: udp/listen or udp/event). */
  name?: string
  /** Serves only datagrams this accepts; the rest are dropped and counted as `udp_stray` (udp/p2p: the peer only). */
  accept?(address: string, port: number): boolean
}

interface Bound {
  socket: UdpSocket
  /** Part of every flow key of this socket (flows are keyed by socket and peer). */
  index: number
}

export class ListenSockets {
  readonly log: Logger
  private readonly ctx: HalfContext
  private readonly kind: PacketKind
  private readonly flows: FlowTable<string>
  /** By the address each socket was bound to (a group address for multicast). */
  private readonly sockets = new Map<string, Bound>()
  private socketSeq = 0
  private nextId = 1
  private out: PacketSink | undefined
  private readonly accept: ListenSocketsOptions['accept']

  constructor(ctx: HalfContext, kind: PacketKind, opts: ListenSocketsOptions = {}) {
    this.ctx = ctx
    this.kind = kind
    this.accept = opts.accept
    this.log = ctx.logger.child(opts.name ?? (kind === 'event' ? 'udp/event' : 'udp/listen'))
    // Bounded like the far side's tables: a flood of new source addresses evicts the least recently used flow.
    const maxFlows = ctx.options.maxFlowsPerTunnel
    this.flows = new FlowTable<string>({
      idleMs: ctx.options.flowIdleMs,
      maxSize: maxFlows,
      budget: ctx.limits.flows,
      onEvict: (flow, cause) => ctx.drops.drop('flow_evicted', cause === 'half'
        ? `${flow.label}: the half holds ${ctx.limits.flows.max} flows (--max-flows), the most of them local: closed the least recently used`
        : `${flow.label}: more than ${maxFlows} local flows, closed the least recently used`),
      onIdle: (flow) => {
        ctx.stats.add('udp.flows_idle_closed')
        this.log.debug(`flow ${flow.label} idle for ${ctx.options.flowIdleMs} ms: closed`)
      },
    })
    ctx.stats.gauge('flows.open', () => this.flows.size)
  }

  /** Where packets go from now on. */
  deliverTo(out: PacketSink): void {
    this.out = out
  }

  has(address: string): boolean {
    return this.sockets.has(address)
  }

  boundAddresses(): string[] {
    return [...this.sockets.keys()]
  }

  addresses(): SocketAddress[] {
    return [...this.sockets.values()].map((b) => b.socket.local)
  }

  /** Binds one socket for `addr` (`ipv6Only` unless a dual-stack socket was asked for) and serves it. */
  async bind(addr: ResolvedAddress, port: number, dualStack: boolean): Promise<UdpSocket> {
    return this.serve(addr.address, (onMessage) => this.ctx.runtime.bindUdp({
      address: addr.address,
      port,
      family: addr.family,
      ipv6Only: addr.family === 6 && !dualStack,
      onMessage,
      onError: (err) => this.log.warn(`socket error on ${addr.address}: ${err.message}`),
    }))
  }

  /** Serves a socket opened by `open` (a multicast join), keyed by `key`. */
  async serve(key: string, open: (onMessage: UdpBindOptions['onMessage']) => Promise<UdpSocket>): Promise<UdpSocket> {
    const index = this.socketSeq++
    let socket: UdpSocket | undefined
    socket = await open((data, address, port) => this.received(socket!, index, data, address, port))
    this.sockets.set(key, { socket, index })
    return socket
  }

  /** Keeps only the entries whose socket is in `live` (a failed port-0 sync leaves some behind). */
  keepOnly(live: UdpSocket[]): void {
    for (const [key, b] of [...this.sockets]) if (!live.includes(b.socket)) this.sockets.delete(key)
  }

  /** Closes the socket bound to `address` and ends its flows (`session-lost`, U4). */
  drop(address: string): void {
    const b = this.sockets.get(address)
    if (!b) return
    this.sockets.delete(address)
    b.socket.close()
    const prefix = `${b.index}|`
    for (const flow of this.flows.all()) {
      if (!(flow.key as string).startsWith(prefix)) continue
      flow.close()
      this.ctx.stats.add('udp.sessions_lost')
      this.log.info(`session-lost ${flow.label}: local address ${formatAddress(b.socket.local)} is gone`)
    }
    this.log.info(`address ${address} is gone: closed its socket`)
  }

  close(): void {
    this.flows.closeAll()
    for (const b of this.sockets.values()) b.socket.close()
    this.sockets.clear()
  }

  private received(socket: UdpSocket, index: number, data: Uint8Array, address: string, fromPort: number): void {
    const { ctx } = this
    if (this.accept && !this.accept(address, fromPort)) {
      ctx.drops.drop('udp_stray', `a datagram from ${address}:${fromPort}, which is not the peer`)
      return
    }
    if (data.length === 0) {
      ctx.drops.drop('empty_datagram', `zero-length datagram from ${address}:${fromPort} (nothing to forward)`)
      return
    }
    if (data.length > MAX_DATAGRAM) {
      ctx.drops.drop('oversized_datagram', `${data.length}-byte datagram from ${address}:${fromPort}`)
      return
    }
    const key = `${index}|${address}|${fromPort}`
    let flow = this.flows.get(key)
    if (!flow) {
      // IPv4 peers of a dual-stack socket arrive as ::ffff:a.b.c.d: named as IPv4, answered in
      // the form the socket needs (S7, U8).
      const peer = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address
      flow = new Flow(`udp ${peer}:${fromPort}`, (_id, payload) => {
        socket.send(payload, fromPort, address)
        ctx.stats.add('udp.replies')
      }, Date.now())
      this.flows.add(key, flow)
      ctx.stats.add('udp.flows')
      this.log.debug(`new flow ${flow.label} on ${formatAddress(socket.local)}`)
    } else {
      flow.touch()
    }
    const id = this.nextId
    this.nextId = id === 0xffffffff ? 1 : id + 1
    ctx.stats.add(this.kind === 'event' ? 'udp.events' : 'udp.requests')
    this.out!.send(flow, this.kind, id, data)
  }
}
