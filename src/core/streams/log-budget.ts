/**
 * A bound on log lines about streams a peer can cause (refusals, resets): at most `perSecond`
 * lines a second; the rest are counted and summed up in the next line that is written.
 */
export class LogBudget {
  private readonly perSecond: number
  private windowStart = 0
  private used = 0
  private suppressed = 0

  constructor(perSecond = 20) {
    this.perSecond = perSecond
  }

  /** Calls `write` with the line (and how many were left out before it) if the budget allows. */
  log(write: (line: string) => void, line: string, now = Date.now()): void {
    if (now - this.windowStart >= 1000) {
      this.windowStart = now
      this.used = 0
    }
    if (this.used >= this.perSecond) {
      this.suppressed++
      return
    }
    this.used++
    const left = this.suppressed
    this.suppressed = 0
    write(left > 0 ? `${line} (${left} similar lines left out)` : line)
  }
}
