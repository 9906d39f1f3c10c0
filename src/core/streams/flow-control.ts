/**
 * Credit-based flow control for streams (docs/wire-protocol.md#tcp-streams), as pure logic: no
 * sockets, time from a Clock, so a fake clock drives it in test/unit/stream-flow-control.test.ts.
 *
 * The receiver of a stream grants credit: the peer may send at most that many bytes before more is
 * granted. What arrives beyond the credit is a protocol violation. Credit comes back as the reader
 * consumes bytes, so a reader that stops costs at most its window. The window starts at
 * INITIAL_WINDOW and doubles when the peer used a window's worth faster than the round trip would
 * allow if the window were the limit (the bandwidth-delay product outgrew it), up to
 * MAX_STREAM_WINDOW per stream and a budget per connection (WindowBudget) shared by its streams.
 */
import type { Clock } from '../../base/clock.ts'

/** Credit each side grants a new stream. */
export const INITIAL_WINDOW = 256 * 1024
/** A stream gets at least this much even when its connection's budget is spent (streams must move). */
export const MIN_WINDOW = 16 * 1024
/** Largest window one stream grows to. */
export const MAX_STREAM_WINDOW = 16 << 20
/** Sum of the receive windows of one connection's streams (beyond MIN_WINDOW each). */
export const MAX_CONNECTION_WINDOW = 64 << 20
/** Credit a sender may hold; a window update past it is an error (as in HTTP/2). */
export const MAX_CREDIT = 0x7fff_ffff
/** Credit is granted back once this fraction of the window has been consumed. */
const GRANT_FRACTION = 4

/** The receive-window budget of one connection: growth beyond the initial windows comes out of it. */
export class WindowBudget {
  readonly max: number
  reserved = 0

  constructor(max = MAX_CONNECTION_WINDOW) {
    this.max = max
  }

  /** Takes up to `want` bytes (never less than `floor`, which may overdraw); returns what was given. */
  take(want: number, floor = 0): number {
    const given = Math.max(floor, Math.min(want, this.max - this.reserved))
    this.reserved += given
    return given
  }

  give(n: number): void {
    this.reserved = Math.max(0, this.reserved - n)
  }
}

/** What the streams of one connection share: the window budget, the clock, the measured round trip. */
export interface WindowEnv {
  readonly budget: WindowBudget
  readonly clock: Clock
  /** The connection's smoothed round trip in ms (0 while unknown: no growth). */
  readonly rtt: number
}

/** The receiving end of one stream: the credit the peer holds and when to grant more. */
export class ReceiveWindow {
  /** Current window size. */
  window: number
  /** Bytes the peer may still send. */
  private credit: number
  /** Bytes consumed since the last grant. */
  private consumedSinceGrant = 0
  /** When the current measurement epoch began (the last grant). */
  private epochStart: number
  private readonly env: WindowEnv

  constructor(env: WindowEnv, initial = INITIAL_WINDOW) {
    this.env = env
    this.window = env.budget.take(initial, Math.min(initial, MIN_WINDOW))
    this.credit = this.window
    this.epochStart = env.clock.now()
  }

  /** Credit the peer holds now. */
  get outstanding(): number {
    return this.credit
  }

  /** The peer sent `n` bytes: false when it had no credit for them (a flow-control violation). */
  received(n: number): boolean {
    if (n > this.credit) return false
    this.credit -= n
    return true
  }

  /**
   * `n` bytes were handed to the reader. Returns the credit to grant the peer now (a window
   * update), or 0 when not enough was consumed to be worth a frame.
   */
  consumed(n: number): number {
    this.consumedSinceGrant += n
    if (this.consumedSinceGrant * GRANT_FRACTION < this.window) return 0
    const grown = this.grow()
    const grant = this.consumedSinceGrant + grown
    this.consumedSinceGrant = 0
    this.credit += grant
    return grant
  }

  /** Gives the window back to the connection's budget (the stream ended). */
  release(): void {
    this.env.budget.give(this.window)
    this.window = 0
  }

  /**
   * Doubles the window when the consumed part went by faster than the round trip allows a
   * window-limited sender: consuming a fraction f of the window in less than 4·f·RTT (the rule
   * quic-go uses) means the peer was waiting for credit.
   */
  private grow(): number {
    const env = this.env
    const now = env.clock.now()
    const elapsed = now - this.epochStart
    this.epochStart = now
    const rtt = env.rtt
    if (rtt <= 0 || this.window >= MAX_STREAM_WINDOW) return 0
    const fraction = this.consumedSinceGrant / this.window
    if (elapsed >= 4 * fraction * rtt) return 0
    const extra = env.budget.take(Math.min(this.window, MAX_STREAM_WINDOW - this.window))
    this.window += extra
    return extra
  }
}

/** The sending end of one stream: credit granted by the peer. */
export class SendCredit {
  credit: number

  constructor(initial: number) {
    this.credit = initial
  }

  /** A window update: false when it would take the credit past MAX_CREDIT (the peer misbehaves). */
  grant(n: number): boolean {
    if (n <= 0 || this.credit + n > MAX_CREDIT) return false
    this.credit += n
    return true
  }
}
