/**
 * Connection racing over a runtime: carries out the commands of the RFC 8305 state machine in
 * ./happy-eyeballs.ts with real timers and sockets. What counts as success is pluggable (C5): a
 * TCP connect for tcp/client, the TLS handshake for a TLS connector.
 */
import type { Family, ResolvedAddress, Runtime, StreamConn } from '../ports/runtime.ts'
import { RelayError, errnoOf } from '../base/errors.ts'
import { type AttemptPhase, type AttemptRecord, type Candidate, HappyEyeballs, type Query, type RaceCommand, type RaceEvent, type RaceFailure, type RaceOptions } from './happy-eyeballs.ts'
import { hostPort } from '../base/address.ts'

export type { Candidate, RaceEvent, RaceOptions } from './happy-eyeballs.ts'

/** One failed attempt inside a ConnectRaceError (C6). */
export class AttemptError extends Error {
  readonly address: string
  readonly family: Family
  readonly port: number
  readonly phase: AttemptPhase
  readonly errno?: string
  /** When the attempt started and ended, in ms from the start of the race. */
  readonly startedMs: number
  readonly endedMs: number

  constructor(record: AttemptRecord, port: number) {
    super(record.message)
    this.name = 'AttemptError'
    this.address = record.address
    this.family = record.family
    this.port = port
    this.phase = record.phase
    if (record.errno !== undefined) this.errno = record.errno
    this.startedMs = record.startedMs
    this.endedMs = record.endedMs
  }
}


/**
 * Every attempt failed, or the deadline passed, or the race was cancelled (C6, C7). `errors`
 * are in attempt order, one per address tried, each with its own errno and phase; `primary` is
 * the first (Go's "most relevant"), not the last as in Twisted.
 */
export class ConnectRaceError extends AggregateError {
  readonly code: 'E_CONNECT_FAILED' | 'E_CANCELLED' | 'E_RESOLVE'
  declare readonly errors: AttemptError[]
  readonly primary: AttemptError | undefined
  /** Addresses never tried because the deadline or the cancellation came first. */
  readonly untried: string[]
  readonly reason: RaceFailure['reason']

  constructor(text: string, failure: RaceFailure, port: number) {
    const errors = failure.attempts.map((r) => new AttemptError(r, port))
    const list = errors.map((e) => `${hostPort(e.address, port)} ${e.errno ?? e.phase} after ${Math.round(e.endedMs - e.startedMs)} ms (${e.message})`)
    const untried = failure.untried.map((c) => c.address)
    const what = {
      failed: 'cannot connect',
      timeout: 'no connection within the connect timeout',
      cancelled: 'cancelled',
      'no-addresses': 'no address to connect to',
    }[failure.reason]
    const resolve = failure.resolveErrors.map((e) => e.message)
    const detail = [...list, ...(untried.length ? [`not tried: ${untried.join(', ')}`] : []), ...resolve].join('; ')
    super(errors, `${text}: ${what}${detail ? `: ${detail}` : ''}`)
    this.name = 'ConnectRaceError'
    this.code = failure.code
    this.primary = errors[0]
    this.untried = untried
    this.reason = failure.reason
  }
}

/** Timer functions; tests may pass a fake. */
export interface Clock {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

const realClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
}

export interface RaceDialOptions<T> {
  /** For messages: the connector string. */
  text: string
  port: number
  /** Addresses known at once (one getaddrinfo-style lookup, or a literal: C10). */
  candidates?: Candidate[]
  /** Or separate queries answered asynchronously (AAAA and A, C1). */
  queries?: { query: Query; lookup: () => Promise<Candidate[]> }[]
  /**
   * Opens one attempt; resolves when it has reached the success condition (C5). It must honour
   * `signal` (abort = destroy the socket). An error may carry `phase: 'bind'`.
   */
  attempt(candidate: Candidate, signal: AbortSignal): Promise<T>
  /** Closes the result of an attempt that succeeded too late. */
  dispose(result: T): void
  race?: RaceOptions
  signal?: AbortSignal
  onEvent?(event: RaceEvent): void
  clock?: Clock
}

/**
 * Races connection attempts (docs/addresses.md C1–C8) and resolves with the winner's result; rejects with a
 * ConnectRaceError. No attempt is aborted when the next one starts; the winner closes the rest.
 */
export function raceDial<T>(o: RaceDialOptions<T>): Promise<T> {
  const clock = o.clock ?? realClock
  const machine = new HappyEyeballs(o.race)
  const attempts = new Map<number, AbortController>()
  const results = new Map<number, T>()
  let timer: unknown
  let settled = false

  return new Promise<T>((resolve, reject) => {
    const feed = (input: Parameters<HappyEyeballs['handle']>[1]) => run(machine.handle(clock.now(), input))

    const run = (commands: RaceCommand[]) => {
      for (const c of commands) {
        switch (c.type) {
          case 'start-attempt':
            start(c.id, { address: c.address, family: c.family })
            break
          case 'cancel-attempt': {
            attempts.get(c.id)?.abort(new RelayError('E_CANCELLED', 'lost the race'))
            attempts.delete(c.id)
            const late = results.get(c.id)
            results.delete(c.id)
            if (late !== undefined) o.dispose(late)
            break
          }
          case 'set-timer':
            if (timer !== undefined) clock.clearTimeout(timer)
            timer = clock.setTimeout(() => {
              timer = undefined
              feed({ type: 'timer' })
            }, Math.max(0, c.at - clock.now()))
            break
          case 'clear-timer':
            if (timer !== undefined) clock.clearTimeout(timer)
            timer = undefined
            break
          case 'event':
            o.onEvent?.(c.event)
            break
          case 'done':
            settled = true
            o.signal?.removeEventListener('abort', onAbort)
            if ('winner' in c) {
              const result = results.get(c.winner)!
              results.delete(c.winner)
              attempts.delete(c.winner)
              resolve(result)
            } else {
              reject(new ConnectRaceError(o.text, c.failure, o.port))
            }
            break
        }
      }
    }

    const start = (id: number, candidate: Candidate) => {
      const controller = new AbortController()
      attempts.set(id, controller)
      o.attempt(candidate, controller.signal).then(
        (result) => {
          if (controller.signal.aborted || settled) {
            o.dispose(result)
            attempts.delete(id)
            return
          }
          results.set(id, result)
          feed({ type: 'connected', id })
        },
        (err) => {
          attempts.delete(id)
          if (controller.signal.aborted || settled) return
          const e = err as { phase?: AttemptPhase; syscall?: string } | undefined
          const phase = e?.phase === 'bind' || e?.syscall === 'bind' ? 'bind' : 'connect'
          feed({ type: 'failed', id, phase, errno: errnoOf(err), message: (err as Error)?.message ?? String(err) })
        },
      )
    }

    const onAbort = () => {
      if (!settled) feed({ type: 'abort', message: 'cancelled' })
    }
    if (o.signal?.aborted) {
      reject(new RelayError('E_CANCELLED', `${o.text}: cancelled`))
      return
    }
    o.signal?.addEventListener('abort', onAbort, { once: true })

    const queries = o.queries ?? [{ query: 'any' as const, lookup: async () => o.candidates ?? [] }]
    feed({ type: 'start', queries: queries.map((q) => q.query) })
    for (const q of queries) {
      if (o.queries === undefined) {
        // Known addresses go in synchronously: a literal starts its one attempt at once.
        feed({ type: 'resolved', query: 'any', addresses: o.candidates ?? [] })
        break
      }
      q.lookup().then(
        (addresses) => !settled && feed({ type: 'resolved', query: q.query, addresses }),
        (err) => !settled && feed({ type: 'resolve-failed', query: q.query, errno: errnoOf(err), message: (err as Error)?.message ?? String(err) }),
      )
    }
  })
}

export interface TcpDialOptions {
  /** Whole-race deadline. */
  timeoutMs: number
  signal: AbortSignal
  race?: RaceOptions
  /** Local address to bind for an attempt (M1/M2 filtering happens before); undefined: none. */
  localAddressFor?(remote: Candidate): string | undefined
  localPort?: number
  /** Keep the connection writable after the peer's FIN (forwarded TCP streams). */
  allowHalfOpen?: boolean
  onEvent?(event: RaceEvent): void
}

/** Races TCP connections to `addresses` (already resolved, in resolver order). */
export function raceTcp(rt: Runtime, text: string, addresses: ResolvedAddress[], port: number, o: TcpDialOptions): Promise<StreamConn> {
  return raceDial<StreamConn>({
    text,
    port,
    candidates: addresses,
    attempt: (c, signal) => rt.connectTcp({ address: c.address, port, signal, localAddress: o.localAddressFor?.(c), localPort: o.localPort, allowHalfOpen: o.allowHalfOpen }),
    dispose: (conn) => conn.destroy(),
    race: { ...o.race, timeoutMs: o.timeoutMs },
    signal: o.signal,
    onEvent: o.onEvent,
  })
}

/**
 * The dialler tcp/client used before the race existed, same signature: now an RFC 8305 race
 * whose whole deadline is `timeoutMs`.
 */
export function dialFirst(rt: Runtime, text: string, addresses: ResolvedAddress[], port: number, timeoutMs: number, signal: AbortSignal): Promise<StreamConn> {
  return raceTcp(rt, text, addresses, port, { timeoutMs, signal })
}

/** Shortest and longest `attempt-delay=` (RFC 8305 §5, §8); below 100 ms is allowed with a warning. */
const ATTEMPT_DELAY_MIN = 10
const ATTEMPT_DELAY_LOW = 100
const ATTEMPT_DELAY_MAX = 2000

/** Race settings from an endpoint's options (`attempt-delay=<ms>`), checked as docs/addresses.md#racing-parameters says. */
export function raceOptionsOf(options: Record<string, string>, text: string, warn?: (msg: string) => void): RaceOptions {
  const value = options['attempt-delay']
  if (value === undefined) return {}
  const ms = /^[0-9]+(ms)?$/.test(value) ? Number.parseInt(value, 10) : Number.NaN
  if (!(ms >= ATTEMPT_DELAY_MIN && ms <= ATTEMPT_DELAY_MAX)) {
    throw new RelayError('E_CONFIG', `${text}: attempt-delay must be ${ATTEMPT_DELAY_MIN}–${ATTEMPT_DELAY_MAX} ms, not '${value}'`)
  }
  if (ms < ATTEMPT_DELAY_LOW) warn?.(`W_ATTEMPT_DELAY_LOW ${text}: attempt-delay=${ms} is below the recommended ${ATTEMPT_DELAY_LOW} ms`)
  return { attemptDelayMs: ms }
}
