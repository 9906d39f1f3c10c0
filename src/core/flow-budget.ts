/**
 * The half's bound on flows across all its flow tables (every tunnel connection's, every
 * udp/listen's): on a far half each flow holds a UDP socket, so this is what keeps descriptors
 * below the process's limit (`--max-flows`, docs/architecture.md#flows-one-owner). When the half is
 * at its bound, a new flow makes room by evicting the least recently used flow of the biggest
 * table: the connection that holds the most flows pays for its own flood, never a small one.
 */
export interface BudgetedTable {
  readonly size: number
  /** Evicts this table's least recently used flow (counted and logged by the table's owner). */
  evictLeastRecent(): void
}

export class FlowBudget {
  readonly max: number
  private used = 0
  private readonly tables = new Set<BudgetedTable>()
  /** The table evicted from last: under a flood it stays the biggest, so no scan is needed. */
  private lastBiggest: BudgetedTable | undefined

  constructor(max: number) {
    this.max = max
  }

  get size(): number {
    return this.used
  }

  register(table: BudgetedTable): void {
    this.tables.add(table)
  }

  unregister(table: BudgetedTable): void {
    this.tables.delete(table)
    if (this.lastBiggest === table) this.lastBiggest = undefined
  }

  /** A table's flow count changed by `n`. */
  adjust(n: number): void {
    this.used += n
  }

  /** Called before `table` adds a flow: at the bound, the biggest table gives up its least recently used one. */
  makeRoom(table: BudgetedTable): void {
    let guard = this.tables.size + 1
    while (this.used >= this.max && guard-- > 0) {
      const biggest = this.biggest(table)
      if (!biggest || biggest.size === 0) return
      biggest.evictLeastRecent()
    }
  }

  private biggest(asking: BudgetedTable): BudgetedTable | undefined {
    const cached = this.lastBiggest
    // Still above the average: good enough, and O(1) while one table floods.
    if (cached && this.tables.has(cached) && cached.size * this.tables.size >= this.used && cached.size > 0) return cached
    let best: BudgetedTable | undefined = asking.size > 0 ? asking : undefined
    for (const t of this.tables) if (!best || t.size > best.size) best = t
    this.lastBiggest = best
    return best
  }
}
