/**
 * RFC 8305 connection racing as a sans-IO state machine (docs/addresses.md C1–C8), in the
 * style of mozilla/happy-eyeballs: `handle(now, event)` takes the time and what happened, and
 * returns commands (start an attempt, cancel one, set the timer, done). It never reads a clock,
 * opens a socket or resolves a name, so every timing rule is testable with a fake clock; the
 * driver in ./dial.ts carries the commands out over a runtime.
 */
import type { Family } from '../ports/runtime.ts'

/** One address to try. */
export interface Candidate {
  address: string
  family: Family
}

/** How an attempt ended without winning. */
export type AttemptPhase = 'bind' | 'connect' | 'timeout' | 'cancelled'

export interface RaceOptions {
  /** How long to wait for AAAA once A has arrived (C1). Default 50 ms. */
  resolutionDelayMs?: number
  /** Stagger between attempt starts (C3). Default 250 ms. */
  attemptDelayMs?: number
  /** Addresses of the first family before interleaving (C2): 1 or 2. Default 1. */
  preferredFamilyCount?: 1 | 2
  /** Deadline of the whole race, from `start` (C6 phase 'timeout'). Default 30 s. */
  timeoutMs?: number
}

/** A query the race waits for: AAAA (6), A (4), or one lookup that answers both ('any'). */
export type Query = Family | 'any'

export type RaceInput =
  /** Begins the race at `now`, waiting for these queries (`['any']` for one getaddrinfo-style lookup). */
  | { type: 'start'; queries: Query[] }
  /** The complete current answer of one query; addresses already tried are kept running (C4). */
  | { type: 'resolved'; query: Query; addresses: Candidate[] }
  | { type: 'resolve-failed'; query: Query; errno?: string; message: string }
  /** The timer set by the last `set-timer` command went off. */
  | { type: 'timer' }
  /** Attempt `id` reached the success condition (TCP connect, or TLS handshake done, C5). */
  | { type: 'connected'; id: number }
  | { type: 'failed'; id: number; phase?: AttemptPhase; errno?: string; message: string }
  /** Cancellation (C7). */
  | { type: 'abort'; message?: string }

/** Observability (C8); `atMs` is relative to the start of the race. */
export type RaceEvent =
  | { type: 'attempt-start'; id: number; address: string; family: Family; atMs: number }
  | { type: 'attempt-fail'; id: number; address: string; family: Family; atMs: number; errno?: string; message: string }
  | { type: 'attempt-timeout'; id: number; address: string; family: Family; atMs: number }
  | { type: 'winner'; id: number; address: string; family: Family; atMs: number }

/** One attempt that did not win, in attempt order (C6). Times are relative to the race start. */
export interface AttemptRecord {
  id: number
  address: string
  family: Family
  phase: AttemptPhase
  errno?: string
  message: string
  startedMs: number
  endedMs: number
}

export interface RaceFailure {
  /** E_CONNECT_FAILED (every attempt failed or the deadline passed), E_CANCELLED, or E_RESOLVE. */
  code: 'E_CONNECT_FAILED' | 'E_CANCELLED' | 'E_RESOLVE'
  attempts: AttemptRecord[]
  /** Addresses known but never tried (the deadline or the cancellation came first). */
  untried: Candidate[]
  /** Resolver failures, when nothing could be tried. */
  resolveErrors: { query: Query; errno?: string; message: string }[]
  /** Why the race ended: 'failed' (all attempts), 'timeout', 'cancelled', 'no-addresses'. */
  reason: 'failed' | 'timeout' | 'cancelled' | 'no-addresses'
}

export type RaceCommand =
  | { type: 'start-attempt'; id: number; address: string; family: Family }
  /** Destroy this attempt: a loser of the race, one that connected after the winner, or at the end. */
  | { type: 'cancel-attempt'; id: number }
  /** Call `handle(at, {type:'timer'})` at `at` (replaces any earlier timer). */
  | { type: 'set-timer'; at: number }
  | { type: 'clear-timer' }
  | { type: 'event'; event: RaceEvent }
  | { type: 'done'; winner: number; address: string; family: Family }
  | { type: 'done'; failure: RaceFailure }

/** RFC 8305 §5 and §8: never start two attempts less than 10 ms apart. */
export const MIN_ATTEMPT_GAP_MS = 10

interface Attempt {
  id: number
  address: string
  family: Family
  startedAt: number
  state: 'running' | 'failed' | 'won' | 'cancelled'
}

const other = (f: Family): Family => (f === 4 ? 6 : 4)

/**
 * The race. Feed it `start`, then resolver answers, attempt results and timer ticks; carry out
 * the commands it returns, in order. After a `done` command it only answers late `connected`
 * events (with `cancel-attempt`: the late socket must be closed).
 */
export class HappyEyeballs {
  private readonly resolutionDelay: number
  private readonly attemptDelay: number
  private readonly preferredCount: number
  private readonly timeout: number

  private phase: 'idle' | 'resolving' | 'racing' | 'done' = 'idle'
  private t0 = 0
  private pending = new Set<Query>()
  private resolutionDelayEnd: number | undefined
  private readonly remaining: Record<Family, Candidate[]> = { 4: [], 6: [] }
  private firstFamily: Family | undefined
  private lastFamily: Family | undefined
  private readonly attempts: Attempt[] = []
  private readonly records: AttemptRecord[] = []
  private readonly resolveErrors: RaceFailure['resolveErrors'] = []
  private timerAt: number | undefined
  private nextId = 1

  constructor(options: RaceOptions = {}) {
    this.resolutionDelay = options.resolutionDelayMs ?? 50
    this.attemptDelay = Math.max(MIN_ATTEMPT_GAP_MS, options.attemptDelayMs ?? 250)
    this.preferredCount = options.preferredFamilyCount ?? 1
    this.timeout = options.timeoutMs ?? 30_000
  }

  /** Every address an attempt was started for, in order (Node's `autoSelectFamilyAttemptedAddresses`). */
  get attemptedAddresses(): string[] {
    return this.attempts.map((a) => a.address)
  }

  /** Whether the race has ended (won, failed, or cancelled). */
  get done(): boolean {
    return this.phase === 'done'
  }

  handle(now: number, input: RaceInput): RaceCommand[] {
    const out: RaceCommand[] = []
    if (this.phase === 'done') {
      // A loser that connects after the winner (or after the end) is closed at once (C5).
      if (input.type === 'connected') out.push({ type: 'cancel-attempt', id: input.id })
      return out
    }
    switch (input.type) {
      case 'start':
        if (this.phase !== 'idle') throw new Error('race already started')
        this.t0 = now
        this.phase = 'resolving'
        this.pending = new Set(input.queries)
        if (this.pending.size === 0) this.pending.add('any')
        break
      case 'resolved':
        this.onResolved(now, input.query, input.addresses)
        break
      case 'resolve-failed':
        this.pending.delete(input.query)
        this.resolveErrors.push({ query: input.query, errno: input.errno, message: input.message })
        if (this.phase === 'resolving' && !this.pending.has(6) && !this.pending.has('any')) this.begin()
        break
      case 'timer':
        this.timerAt = undefined
        if (now - this.t0 >= this.timeout) {
          this.finishFailed(now, 'timeout', out)
          return out
        }
        if (this.phase === 'resolving' && this.resolutionDelayEnd !== undefined && now >= this.resolutionDelayEnd) this.begin()
        break
      case 'connected':
        this.onConnected(now, input.id, out)
        return out
      case 'failed':
        this.onFailed(now, input, out)
        break
      case 'abort':
        this.finishFailed(now, 'cancelled', out, input.message)
        return out
    }
    // (A getter: TypeScript would narrow `this.phase` and miss that the handlers above end the race.)
    if (this.done) return out
    this.advance(now, out)
    return out
  }

  private onResolved(now: number, query: Query, addresses: Candidate[]): void {
    this.pending.delete(query)
    const tried = new Set(this.attempts.map((a) => a.address))
    for (const family of [6, 4] as const) {
      if (query !== 'any' && query !== family) continue
      // The answer replaces what was known: new addresses join, vanished ones leave the queue;
      // attempts already started keep going (C4).
      const seen = new Set<string>()
      this.remaining[family] = addresses.filter((a) => a.family === family && !tried.has(a.address) && !seen.has(a.address) && seen.add(a.address))
    }
    if (this.phase !== 'resolving') return
    if (query === 'any') {
      this.firstFamily = addresses[0]?.family
      this.begin()
    } else if (query === 6 || !this.pending.has(6)) {
      // AAAA is here (or will not come): start at once (C1).
      this.begin()
    } else {
      // A before AAAA: give AAAA the resolution delay.
      this.resolutionDelayEnd ??= now + this.resolutionDelay
    }
  }

  private begin(): void {
    this.phase = 'racing'
    this.resolutionDelayEnd = undefined
    this.firstFamily ??= this.remaining[6].length > 0 ? 6 : 4
  }

  private onConnected(now: number, id: number, out: RaceCommand[]): void {
    const winner = this.attempts.find((a) => a.id === id)
    if (!winner || winner.state !== 'running') {
      out.push({ type: 'cancel-attempt', id })
      return
    }
    winner.state = 'won'
    this.phase = 'done'
    for (const a of this.attempts) {
      if (a.state !== 'running') continue
      a.state = 'cancelled'
      out.push({ type: 'cancel-attempt', id: a.id })
    }
    this.clearTimer(out)
    out.push({ type: 'event', event: { type: 'winner', id, address: winner.address, family: winner.family, atMs: now - this.t0 } })
    out.push({ type: 'done', winner: id, address: winner.address, family: winner.family })
  }

  private onFailed(now: number, input: Extract<RaceInput, { type: 'failed' }>, out: RaceCommand[]): void {
    const a = this.attempts.find((x) => x.id === input.id)
    if (!a || a.state !== 'running') return
    a.state = 'failed'
    this.records.push({
      id: a.id,
      address: a.address,
      family: a.family,
      phase: input.phase ?? 'connect',
      errno: input.errno,
      message: input.message,
      startedMs: a.startedAt - this.t0,
      endedMs: now - this.t0,
    })
    out.push({ type: 'event', event: { type: 'attempt-fail', id: a.id, address: a.address, family: a.family, atMs: now - this.t0, errno: input.errno, message: input.message } })
  }

  /** Starts what may start now, ends the race when nothing is left, and sets the timer. */
  private advance(now: number, out: RaceCommand[]): void {
    if (this.phase === 'racing') {
      const nextAt = this.nextStartAt()
      if (now >= nextAt) {
        const next = this.pick()
        if (next) this.startAttempt(now, next, out)
      }
      const running = this.attempts.some((a) => a.state === 'running')
      const queued = this.remaining[4].length + this.remaining[6].length
      if (!running && queued === 0 && this.pending.size === 0) {
        this.finishFailed(now, this.attempts.length === 0 ? 'no-addresses' : 'failed', out)
        return
      }
    }
    this.setTimer(this.wakeAt(), out)
  }

  /** When the next attempt may start (C3): the stagger, or soon after the latest attempt failed. */
  private nextStartAt(): number {
    const last = this.attempts[this.attempts.length - 1]
    if (!last) return -Infinity
    if (last.state === 'failed') return last.startedAt + MIN_ATTEMPT_GAP_MS
    return last.startedAt + this.attemptDelay
  }

  private wakeAt(): number | undefined {
    let at = this.t0 + this.timeout
    if (this.phase === 'resolving' && this.resolutionDelayEnd !== undefined) at = Math.min(at, this.resolutionDelayEnd)
    if (this.phase === 'racing' && this.remaining[4].length + this.remaining[6].length > 0) at = Math.min(at, this.nextStartAt())
    return at
  }

  /** The next address in interleaved order (C2, C4). */
  private pick(): Candidate | undefined {
    const family = nextFamily(this.remaining, this.firstFamily ?? 6, this.lastFamily, this.attempts.length, this.preferredCount)
    return this.remaining[family].shift()
  }

  private startAttempt(now: number, c: Candidate, out: RaceCommand[]): void {
    const id = this.nextId++
    this.attempts.push({ id, address: c.address, family: c.family, startedAt: now, state: 'running' })
    this.lastFamily = c.family
    out.push({ type: 'event', event: { type: 'attempt-start', id, address: c.address, family: c.family, atMs: now - this.t0 } })
    out.push({ type: 'start-attempt', id, address: c.address, family: c.family })
  }

  private finishFailed(now: number, reason: RaceFailure['reason'], out: RaceCommand[], message?: string): void {
    this.phase = 'done'
    for (const a of this.attempts) {
      if (a.state !== 'running') continue
      a.state = 'cancelled'
      const phase: AttemptPhase = reason === 'timeout' ? 'timeout' : 'cancelled'
      this.records.push({
        id: a.id,
        address: a.address,
        family: a.family,
        phase,
        errno: reason === 'timeout' ? 'ETIMEDOUT' : undefined,
        message: reason === 'timeout' ? `no answer within ${this.timeout} ms` : (message ?? 'cancelled'),
        startedMs: a.startedAt - this.t0,
        endedMs: now - this.t0,
      })
      if (reason === 'timeout') out.push({ type: 'event', event: { type: 'attempt-timeout', id: a.id, address: a.address, family: a.family, atMs: now - this.t0 } })
      out.push({ type: 'cancel-attempt', id: a.id })
    }
    this.clearTimer(out)
    // Records are kept in attempt order, whatever order the failures came in (C6).
    this.records.sort((x, y) => x.id - y.id)
    const untried = [...this.remaining[6], ...this.remaining[4]]
    const code = reason === 'cancelled' ? 'E_CANCELLED' : reason === 'no-addresses' ? 'E_RESOLVE' : 'E_CONNECT_FAILED'
    out.push({ type: 'done', failure: { code, attempts: [...this.records], untried, resolveErrors: [...this.resolveErrors], reason } })
  }

  private setTimer(at: number | undefined, out: RaceCommand[]): void {
    if (at === this.timerAt) return
    this.timerAt = at
    out.push(at === undefined ? { type: 'clear-timer' } : { type: 'set-timer', at })
  }

  private clearTimer(out: RaceCommand[]): void {
    if (this.timerAt === undefined) return
    this.timerAt = undefined
    out.push({ type: 'clear-timer' })
  }
}

/**
 * Which family comes next in the interleaved order (C2): `preferredCount` picks of the first
 * family, then alternating, falling back to the other family when one runs out.
 */
function nextFamily(queues: Record<Family, Candidate[]>, first: Family, last: Family | undefined, picked: number, preferredCount: number): Family {
  const family = picked < preferredCount || last === undefined ? first : other(last)
  return queues[family].length > 0 ? family : other(family)
}

/**
 * Orders the addresses of one lookup as C2 says: resolver order within each family, duplicates
 * removed, families interleaved from the family of the first address, `preferredFamilyCount` of
 * that family first. The race applies the same order one pick at a time.
 */
export function interleave(addresses: Candidate[], preferredFamilyCount: 1 | 2 = 1): Candidate[] {
  const seen = new Set<string>()
  const queues: Record<Family, Candidate[]> = { 4: [], 6: [] }
  for (const a of addresses) if (!seen.has(a.address) && seen.add(a.address)) queues[a.family].push(a)
  const first = addresses[0]?.family ?? 6
  const out: Candidate[] = []
  let last: Family | undefined
  while (queues[4].length + queues[6].length > 0) {
    last = nextFamily(queues, first, last, out.length, preferredFamilyCount)
    out.push(queues[last].shift()!)
  }
  return out
}
