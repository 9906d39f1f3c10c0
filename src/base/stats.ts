import { Histogram } from './histogram.ts'

/**
 * Counters for everything a half does and, above all, everything it drops: a drop is always
 * counted under a reason and logged, never silent. A half has one Stats (the totals) and a scope
 * per connector (`in`, `out`) that counts into both, so metrics can say which connector counted
 * what. Gauges are read when asked (flows open, queue depth); histograms time requests.
 */
export class Stats {
  readonly counters: Map<string, number> = new Map()
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
    this.counters.set(name, (this.counters.get(name) ?? 0) + n)
    this.parent?.add(name, n)
  }

  /** Keeps the largest value seen (a gauge's peak, e.g. bytes buffered for a slow peer). */
  max(name: string, n: number): void {
    this.peaks.add(name)
    if (n > (this.counters.get(name) ?? 0)) this.counters.set(name, n)
    this.parent?.max(name, n)
  }

  get(name: string): number {
    return this.counters.get(name) ?? 0
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
