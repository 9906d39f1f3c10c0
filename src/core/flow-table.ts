/**
 * The owner of a set of flows (one udp/listen, one tunnel connection): flows by key, idle expiry
 * by one sweep timer per table (a flow lives between idle and idle × 1.25), and a bound on their
 * number. Adding past the bound evicts the least recently used flow, so a flood of new clients
 * costs the flows that went quiet, never an active one.
 *
 * Recency is kept cheaply: the Map holds flows in placement order, and a used flow is moved to the
 * young end only once it has drifted into the older half (more than half the bound placed after
 * it). Eviction takes the oldest placement. So a flow used at least once every bound/2 new flows is
 * never evicted, and a packet costs a comparison, not a Map reinsertion.
 */
import { unrefTimer } from '../base/clock.ts'
import { Flow, type FlowOwner } from './flow.ts'
import type { BudgetedTable, FlowBudget } from './flow-budget.ts'

export interface FlowTableOptions {
  /** Idle time after which a flow is closed. */
  idleMs: number
  /** Most flows at once (each may hold a socket); default unbounded. */
  maxSize?: number
  /**
   * Told about each flow evicted to make room (for the drop counter and its log line): `half` when
   * the half's FlowBudget was full and this table held the most flows, `table` for its own bound.
   */
  onEvict?(flow: Flow, cause: 'table' | 'half'): void
  /** The half's bound across all its tables (FlowBudget); the table registers until closeAll(). */
  budget?: FlowBudget
  /** Told about each flow closed for being idle (a counter and a debug line: an ended flow is never silent). */
  onIdle?(flow: Flow): void
}

export class FlowTable<K> implements FlowOwner, BudgetedTable {
  /** Oldest placement first (a Map iterates in insertion order). */
  private readonly flows = new Map<K, Flow>()
  private readonly opts: FlowTableOptions
  private readonly max: number
  /** A used flow placed more than this many placements ago moves to the young end. */
  private readonly youngSpan: number
  private placements = 0
  private timer: ReturnType<typeof setInterval> | undefined

  constructor(opts: FlowTableOptions) {
    this.opts = opts
    this.max = opts.maxSize ?? Infinity
    this.youngSpan = Math.floor(this.max / 2)
    opts.budget?.register(this)
  }

  get size(): number {
    return this.flows.size
  }

  get(key: K): Flow | undefined {
    return this.flows.get(key)
  }

  /** The flows, oldest placement first (a copy: closing them while iterating is fine). */
  all(): Flow[] {
    return [...this.flows.values()]
  }

  /** Takes ownership of `flow` under `key`, evicting the least recently used flow if the table is full. */
  add(key: K, flow: Flow): void {
    while (this.flows.size >= this.max) this.evictOne('table')
    this.opts.budget?.makeRoom(this)
    flow.owner = this
    flow.key = key
    flow.placed = ++this.placements
    this.flows.set(key, flow)
    this.opts.budget?.adjust(1)
    this.timer ??= unrefTimer(setInterval(() => this.sweep(Date.now()), Math.max(50, this.opts.idleMs / 4)))
  }

  /** @internal FlowOwner: the flow closed. */
  forget(flow: Flow): void {
    const key = flow.key as K
    if (this.flows.get(key) !== flow) return
    this.flows.delete(key)
    this.opts.budget?.adjust(-1)
  }

  /** @internal FlowOwner: traffic on `flow`. */
  used(flow: Flow): void {
    if (this.placements - flow.placed <= this.youngSpan) return
    const key = flow.key as K
    this.flows.delete(key)
    flow.placed = ++this.placements
    this.flows.set(key, flow)
  }

  /** @internal BudgetedTable: the half is at its bound and this table holds the most flows. */
  evictLeastRecent(): void {
    this.evictOne('half')
  }

  /** The oldest placement goes: a flow not used since it drifted into the older half. */
  private evictOne(cause: 'table' | 'half'): void {
    const oldest = this.flows.values().next().value
    if (!oldest) return
    this.flows.delete(oldest.key as K)
    this.opts.budget?.adjust(-1)
    oldest.owner = undefined
    this.opts.onEvict?.(oldest, cause)
    oldest.close()
  }

  /** Closes every flow idle for the idle time or longer. Exposed for tests with a fake clock. */
  sweep(now: number): void {
    for (const flow of this.flows.values()) {
      if (now - flow.lastActive < this.opts.idleMs) continue
      this.opts.onIdle?.(flow)
      flow.close()
    }
    if (this.flows.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer)
      this.timer = undefined
    }
  }

  closeAll(): void {
    for (const flow of this.all()) flow.close()
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    this.opts.budget?.unregister(this)
  }
}
