/**
 * A token bucket (uhppoted-tunnel's `rate-limit` and `rate-limit-burst`): `burst` packets may
 * pass at once, then `perSecond` on average. Refilled from the clock on each take, so an idle
 * bucket costs nothing.
 */
export class TokenBucket {
  private tokens: number
  private last: number
  private readonly perMs: number
  private readonly burst: number
  private readonly now: () => number

  constructor(perSecond: number, burst: number, now: () => number = () => performance.now()) {
    if (!(perSecond > 0) || !(burst >= 1)) throw new RangeError(`a token bucket needs a rate above 0 and a burst of at least 1 (got ${perSecond}/s, ${burst})`)
    this.perMs = perSecond / 1000
    this.burst = burst
    this.tokens = burst
    this.now = now
    this.last = now()
  }

  /** Takes one token if there is one. */
  take(): boolean {
    const t = this.now()
    this.tokens = Math.min(this.burst, this.tokens + (t - this.last) * this.perMs)
    this.last = t
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }
}
