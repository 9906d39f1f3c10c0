/**
 * A flow is the traffic of one local client (docs/architecture.md): the in side creates it and
 * owns it (a FlowTable), the out side hangs its own per-flow state on it (`out`: a UDP socket, the
 * wire ids a tunnel gave it) and hands replies back through it. Everything about one flow ends in
 * one place, close(): the owner forgets it and the out state is released.
 */

/** Per-flow state of the out connector, released when the flow closes. */
export interface FlowState {
  release(): void
}

/** Where a flow is kept: told of each use (for eviction order) and, once, of its end. */
export interface FlowOwner {
  used(flow: Flow): void
  forget(flow: Flow): void
}

export class Flow {
  /** Short description for logs, e.g. `udp 127.0.0.1:40000`. */
  readonly label: string
  /** Clock time of the last traffic either way (idle expiry). */
  lastActive: number
  /** When its owner last placed it at the young end of its table (the owner's count of placements). */
  placed = 0
  /** True once the flow has ended (idle, evicted, connection lost, shutdown). */
  closed = false
  /**
   * Where this flow's datagrams go, when its in connector chose that per flow (a SOCKS5 UDP
   * association makes one flow per destination): `host:port` or `[v6]:port`, carried in each
   * frame's `dst` (docs/wire-protocol.md#udp-associate). Absent: the out connector's own destination.
   */
  dst?: string
  /** The out connector's state for this flow; the out connector sets it on the first packet. */
  out: FlowState | undefined
  /** The table that owns it, and its key there. */
  owner: FlowOwner | undefined
  key: unknown
  private readonly sendReply: (id: number, payload: Uint8Array) => void

  constructor(label: string, sendReply: (id: number, payload: Uint8Array) => void, now: number) {
    this.label = label
    this.sendReply = sendReply
    this.lastActive = now
  }

  /** Delivers a reply (or a datagram the far side sent unasked) back toward the flow's client. */
  reply(id: number, payload: Uint8Array): void {
    if (this.closed) return
    this.lastActive = Date.now()
    this.owner?.used(this)
    this.sendReply(id, payload)
  }

  /** Marks traffic from the client: re-arms the idle time and counts as a use. */
  touch(now: number = Date.now()): void {
    this.lastActive = now
    this.owner?.used(this)
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.owner?.forget(this)
    this.owner = undefined
    const out = this.out
    this.out = undefined
    out?.release()
  }
}
