/**
 * Counters for everything a half does and, above all, everything it drops: a drop is always
 * counted under a reason and logged, never silent.
 */
export class Stats {
  readonly counters: Map<string, number> = new Map()

  add(name: string, n = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + n)
  }

  /** Keeps the largest value seen (a gauge's peak, e.g. bytes buffered for a slow peer). */
  max(name: string, n: number): void {
    if (n > (this.counters.get(name) ?? 0)) this.counters.set(name, n)
  }

  get(name: string): number {
    return this.counters.get(name) ?? 0
  }

  /** Counters as a plain object, sorted by name. */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.counters].sort(([a], [b]) => a.localeCompare(b)))
  }
}

/**
 * Logs a drop at most once per second per reason (floods of bad input must not flood the log)
 * and always counts it.
 */
export class DropReporter {
  private readonly lastLogged = new Map<string, number>()
  private readonly stats: Stats
  private readonly warn: (msg: string, fields: { code: string }) => void
  constructor(stats: Stats, warn: (msg: string, fields: { code: string }) => void) {
    this.stats = stats
    this.warn = warn
  }

  drop(reason: string, detail: string): void {
    this.stats.add(`dropped.${reason}`)
    const now = Date.now()
    if (now - (this.lastLogged.get(reason) ?? 0) < 1000) return
    this.lastLogged.set(reason, now)
    this.warn(`dropped (${reason}): ${detail} [total ${this.stats.get(`dropped.${reason}`)}]`, { code: `dropped.${reason}` })
  }
}
