/**
 * Reconnect delays: exponential with jitter (so many clients of one restarted server do not
 * return in lockstep), capped, and with an optional retry limit (-1 = forever, as uhppoted-tunnel).
 */
export interface BackoffOptions {
  initialMs?: number
  maxMs: number
  maxRetries: number
  random?: () => number
}

export class Backoff {
  private attempt = 0
  private readonly opts: Required<BackoffOptions>

  constructor(opts: BackoffOptions) {
    this.opts = { initialMs: 250, random: Math.random, ...opts }
  }

  /** The next delay in ms, or undefined once the retries are used up. */
  next(): number | undefined {
    if (this.opts.maxRetries >= 0 && this.attempt >= this.opts.maxRetries) return undefined
    const base = Math.min(this.opts.maxMs, this.opts.initialMs * 2 ** Math.min(this.attempt, 30))
    this.attempt++
    // "Equal jitter": between half and all of the exponential step.
    return Math.round(base / 2 + (this.opts.random() * base) / 2)
  }

  reset(): void {
    this.attempt = 0
  }

  get attempts(): number {
    return this.attempt
  }
}

/** Sleeps `ms`, resolving early (to false) if `signal` aborts. */
export function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false)
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve(true)
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      resolve(false)
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
