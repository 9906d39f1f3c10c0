import { Histogram } from './histogram.ts'

/**
 * Counters for everything a half does and, above all, everything it drops: a drop is always
 * counted under a reason and logged, never silent. A half has one Stats (the totals) and a scope
 * per connector (`in`, `out`) that counts into both, so metrics can say which connector counted
 * what. Gauges are read when asked (flows open, queue depth); histograms time requests.
 */
export class Stats {
  /** What was counted here (a scope's counts are added to its parent's when read, not when counted: the hot path updates one map). */
  private readonly own = new Map<string, number>()
  /** Names kept by max(): peaks, shown as gauges rather than counters. */
  readonly peaks: Set<string> = new Set()
  readonly histograms: Map<string, Histogram> = new Map()
  private readonly gauges = new Map<string, (() => number)[]>()
  private readonly scopes = new Map<string, Stats>()
  private readonly parent: Stats | undefined

  constructor(parent?: Stats) {
    this.parent = parent
  }

  add(name: string, n = 1): void {
    this.own.set(name, (this.own.get(name) ?? 0) + n)
  }

  /** Keeps the largest value seen (a gauge's peak, e.g. bytes buffered for a slow peer). */
  max(name: string, n: number): void {
    if (!this.peaks.has(name)) this.markPeak(name)
    if (n > (this.own.get(name) ?? 0)) this.own.set(name, n)
  }

  private markPeak(name: string): void {
    this.peaks.add(name)
    this.parent?.markPeak(name)
  }

  /** This one's count plus its scopes' (for a peak: the largest). */
  get(name: string): number {
    let value = this.own.get(name) ?? 0
    const peak = this.peaks.has(name)
    for (const scope of this.scopes.values()) {
      const v = scope.get(name)
      value = peak ? Math.max(value, v) : value + v
    }
    return value
  }

  /** Every counter with its value (scopes included), as get() gives them. */
  get counters(): Map<string, number> {
    const names = new Set(this.own.keys())
    for (const scope of this.scopes.values()) for (const name of scope.counters.keys()) names.add(name)
    return new Map([...names].map((name) => [name, this.get(name)]))
  }

  /** Counters as a plain object, sorted by name. */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.counters].sort(([a], [b]) => a.localeCompare(b)))
  }

  /** The scope `name` (created on first use): what it counts also counts here. */
  scope(name: string): Stats {
    let s = this.scopes.get(name)
    if (!s) this.scopes.set(name, (s = new Stats(this)))
    return s
  }

  /** Scopes by name, in the order they were made. */
  scoped(): [string, Stats][] {
    return [...this.scopes]
  }

  /** Registers a value read on demand; several under one name add up (here and in the parent). */
  gauge(name: string, read: () => number): void {
    const list = this.gauges.get(name)
    if (list) list.push(read)
    else this.gauges.set(name, [read])
    this.parent?.gauge(name, read)
  }

  /** Current gauge values, sorted by name. */
  gaugeValues(): [string, number][] {
    return [...this.gauges].sort(([a], [b]) => a.localeCompare(b)).map(([name, reads]) => [name, reads.reduce((sum, read) => sum + read(), 0)])
  }

  /** The histogram `name` (created on first use; it observes into the parent's too). */
  histogram(name: string): Histogram {
    let h = this.histograms.get(name)
    if (!h) this.histograms.set(name, (h = new Histogram(undefined, this.parent?.histogram(name))))
    return h
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
