/**
 * A fixed-bucket histogram of durations in seconds (Prometheus semantics: cumulative `le`
 * buckets, a sum and a count), cheap enough for every request: one comparison loop, no allocation.
 */

/** 100 µs to 5 s: a loopback round trip to a request that waits out its --udp-timeout. */
export const ROUND_TRIP_BUCKETS: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

export class Histogram {
  /** Upper bounds, ascending; +Inf is implicit. */
  readonly bounds: readonly number[]
  /** Observations per bucket (not cumulative); the last one is above every bound. */
  readonly counts: number[]
  sum = 0
  count = 0
  private readonly parent: Histogram | undefined

  constructor(bounds: readonly number[] = ROUND_TRIP_BUCKETS, parent?: Histogram) {
    this.bounds = bounds
    this.counts = new Array<number>(bounds.length + 1).fill(0)
    this.parent = parent
  }

  observe(seconds: number): void {
    let i = 0
    while (i < this.bounds.length && seconds > this.bounds[i]!) i++
    this.counts[i]!++
    this.sum += seconds
    this.count++
    this.parent?.observe(seconds)
  }

  /** Cumulative counts per bound, then +Inf (= count). */
  cumulative(): number[] {
    let running = 0
    return this.counts.map((c) => (running += c))
  }
}
