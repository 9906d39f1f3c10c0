/**
 * A flow is the traffic of one local client (docs/architecture.md#words). The in side creates it; the out side
 * keeps per-flow state (a UDP socket, a wire flow id) and hands replies back through it.
 */
export interface Flow {
  /** Short description for logs, e.g. `udp 127.0.0.1:40000`. */
  readonly label: string
  /** Delivers a reply (or a datagram the far side sent unasked) back toward the flow's client. */
  reply(id: number, payload: Uint8Array): void
  /** True once the flow has ended (idle timeout, connection lost, shutdown). */
  readonly closed: boolean
  /** Runs `fn` once when the flow ends (immediately if it already has). */
  onClose(fn: () => void): void
  /** Re-arms the idle timer: called for traffic in either direction. */
  touch(): void
}

/**
 * A flow with an idle deadline and close callbacks. In connectors subclass nothing: they pass a
 * reply function. Idle expiry is driven by a FlowTable sweep, not a timer per flow (cheap for
 * 10,000 flows, and nothing to re-arm on the per-packet path but a timestamp).
 */
export class BasicFlow implements Flow {
  readonly label: string
  lastActive: number
  closed = false
  private readonly sendReply: (id: number, payload: Uint8Array) => void
  private closeHandlers: (() => void)[] | undefined

  constructor(label: string, sendReply: (id: number, payload: Uint8Array) => void, now: number) {
    this.label = label
    this.sendReply = sendReply
    this.lastActive = now
  }

  reply(id: number, payload: Uint8Array): void {
    if (this.closed) return
    this.lastActive = Date.now()
    this.sendReply(id, payload)
  }

  touch(): void {
    this.lastActive = Date.now()
  }

  onClose(fn: () => void): void {
    if (this.closed) {
      fn()
      return
    }
    ;(this.closeHandlers ??= []).push(fn)
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    const handlers = this.closeHandlers
    this.closeHandlers = undefined
    if (handlers) for (const fn of handlers) fn()
  }
}

/**
 * Flows by key with idle expiry. One interval timer sweeps the table; the interval is a fraction
 * of the idle time so a flow lives between idle and idle × 1.25.
 */
export class FlowTable<K> {
  readonly flows = new Map<K, BasicFlow>()
  private readonly idleMs: number
  private readonly maxSize: number
  private readonly onEvict: ((flow: BasicFlow) => void) | undefined
  private timer: ReturnType<typeof setInterval> | undefined

  /**
   * `maxSize` bounds the table (every flow may hold a socket): adding beyond it closes the oldest
   * flow first and reports it through `onEvict`, so a flood of new flows degrades the oldest
   * instead of exhausting file descriptors for everyone.
   */
  constructor(idleMs: number, maxSize = Infinity, onEvict?: (flow: BasicFlow) => void) {
    this.idleMs = idleMs
    this.maxSize = maxSize
    this.onEvict = onEvict
  }

  get size(): number {
    return this.flows.size
  }

  get(key: K): BasicFlow | undefined {
    return this.flows.get(key)
  }

  add(key: K, flow: BasicFlow): void {
    while (this.flows.size >= this.maxSize) {
      const oldest = this.flows.values().next().value!
      this.flows.delete(this.flows.keys().next().value!)
      this.onEvict?.(oldest)
      oldest.close()
    }
    this.flows.set(key, flow)
    flow.onClose(() => {
      if (this.flows.get(key) === flow) this.flows.delete(key)
    })
    this.timer ??= unrefTimer(setInterval(() => this.sweep(Date.now()), Math.max(50, this.idleMs / 4)))
  }

  /** Closes every flow idle for longer than the idle time. Exposed for tests with a fake clock. */
  sweep(now: number): void {
    for (const flow of this.flows.values()) if (now - flow.lastActive >= this.idleMs) flow.close()
    if (this.flows.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer)
      this.timer = undefined
    }
  }

  closeAll(): void {
    for (const flow of [...this.flows.values()]) flow.close()
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }
}

/** Housekeeping timers must not keep a process alive on their own (Node/Bun `unref`). */
export function unrefTimer<T>(timer: T): T {
  ;(timer as { unref?: () => void }).unref?.()
  return timer
}
