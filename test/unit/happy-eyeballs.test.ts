/**
 * docs/addresses.md C1–C8: the sans-IO race driven by a simulated world with a fake clock.
 * Each address has a fate (connects after n ms, fails after n ms with an errno, or never answers);
 * resolver answers arrive at given times. The simulator carries out the machine's commands exactly
 * as the real driver does, and counts live fake sockets.
 */
import assert from 'node:assert/strict'
import type { Family } from '../../src/ports/runtime.ts'
import { type Candidate, HappyEyeballs, interleave, type Query, type RaceCommand, type RaceEvent, type RaceFailure, type RaceOptions } from '../../src/net/happy-eyeballs.ts'
import { ConnectRaceError, raceDial } from '../../src/net/dial.ts'
import { test, waitFor } from '../harness.ts'

type Fate = { connectAfter: number } | { failAfter: number; errno: string } | 'never'

interface World {
  fates: Record<string, Fate>
  /** Resolver answers: at `at` ms, `query` answers `addresses` (or fails). */
  answers: { at: number; query: Query; addresses?: string[]; fail?: string }[]
  queries?: Query[]
  options?: RaceOptions
  /** Abort at this time (C7). */
  abortAt?: number
  /** Stop simulating after this time. */
  until?: number
}

interface Outcome {
  starts: { at: number; address: string }[]
  events: RaceEvent[]
  winner?: string
  doneAt?: number
  failure?: RaceFailure
  /** Sockets open at the end (the winner's included). */
  live: Set<string>
  /** Sockets the machine told us to close, by address. */
  cancelled: string[]
  /** Late `connected` answered with a close. */
  lateClosed: string[]
}

const fam = (a: string): Family => (a.includes(':') ? 6 : 4)
const cand = (a: string): Candidate => ({ address: a, family: fam(a) })

function simulate(w: World): Outcome {
  const race = new HappyEyeballs(w.options)
  const queue: { at: number; seq: number; run: () => RaceCommand[] }[] = []
  let seq = 0
  let now = 0
  let timerSeq = -1
  const byId = new Map<number, string>()
  const out: Outcome = { starts: [], events: [], live: new Set(), cancelled: [], lateClosed: [] }
  const schedule = (at: number, run: () => RaceCommand[]) => queue.push({ at, seq: seq++, run })

  const apply = (commands: RaceCommand[]) => {
    for (const c of commands) {
      switch (c.type) {
        case 'start-attempt': {
          byId.set(c.id, c.address)
          out.starts.push({ at: now, address: c.address })
          out.live.add(c.address)
          const fate = w.fates[c.address] ?? 'never'
          if (fate === 'never') break
          if ('connectAfter' in fate) schedule(now + fate.connectAfter, () => (out.live.has(c.address) || race.done ? race.handle(now, { type: 'connected', id: c.id }) : []))
          else schedule(now + fate.failAfter, () => {
            if (!out.live.has(c.address)) return []
            out.live.delete(c.address)
            return race.handle(now, { type: 'failed', id: c.id, errno: fate.errno, message: fate.errno })
          })
          break
        }
        case 'cancel-attempt': {
          const address = byId.get(c.id)!
          if (out.live.has(address)) out.cancelled.push(address)
          else out.lateClosed.push(address)
          out.live.delete(address)
          break
        }
        case 'set-timer': {
          const mine = seq
          timerSeq = mine
          queue.push({ at: c.at, seq: seq++, run: () => (timerSeq === mine ? race.handle(now, { type: 'timer' }) : []) })
          break
        }
        case 'clear-timer':
          timerSeq = -1
          break
        case 'event':
          out.events.push(c.event)
          break
        case 'done':
          out.doneAt = now
          if ('winner' in c) out.winner = c.address
          else out.failure = c.failure
          break
      }
    }
  }

  apply(race.handle(0, { type: 'start', queries: w.queries ?? ['any'] }))
  for (const a of w.answers) {
    schedule(a.at, () => a.fail
      ? race.handle(now, { type: 'resolve-failed', query: a.query, message: a.fail })
      : race.handle(now, { type: 'resolved', query: a.query, addresses: (a.addresses ?? []).map(cand) }))
  }
  if (w.abortAt !== undefined) schedule(w.abortAt, () => race.handle(now, { type: 'abort' }))
  const until = w.until ?? 60_000
  while (queue.length) {
    queue.sort((x, y) => x.at - y.at || x.seq - y.seq)
    const next = queue.shift()!
    if (next.at > until) break
    now = next.at
    apply(next.run())
  }
  return out
}

const startTimes = (o: Outcome) => o.starts.map((s) => s.at)
const startOrder = (o: Outcome) => o.starts.map((s) => s.address)

// --- C1: resolution delay ---

test('C1: A at 0 ms and AAAA at 30 ms: the first attempt is IPv6, at 30 ms', () => {
  const o = simulate({ queries: [6, 4], answers: [{ at: 0, query: 4, addresses: ['192.0.2.1'] }, { at: 30, query: 6, addresses: ['2001:db8::1'] }], fates: {}, until: 400 })
  assert.deepEqual(o.starts[0], { at: 30, address: '2001:db8::1' })
  assert.deepEqual(o.starts[1], { at: 280, address: '192.0.2.1' })
})

test('C1: AAAA at 80 ms: IPv4 starts when the 50 ms delay runs out, the late AAAA joins the race (C4)', () => {
  const o = simulate({ queries: [6, 4], answers: [{ at: 0, query: 4, addresses: ['192.0.2.1', '192.0.2.2'] }, { at: 80, query: 6, addresses: ['2001:db8::1'] }], fates: {}, until: 700 })
  assert.deepEqual(o.starts, [
    { at: 50, address: '192.0.2.1' },
    { at: 300, address: '2001:db8::1' },
    { at: 550, address: '192.0.2.2' },
  ])
})

test('C1: AAAA first starts at once; an A-query failure does not hold anything up', () => {
  const o = simulate({ queries: [6, 4], answers: [{ at: 5, query: 6, addresses: ['2001:db8::1'] }, { at: 7, query: 4, fail: 'ENODATA' }], fates: { '2001:db8::1': { connectAfter: 20 } } })
  assert.deepEqual(o.starts, [{ at: 5, address: '2001:db8::1' }])
  assert.equal(o.winner, '2001:db8::1')
  assert.equal(o.doneAt, 25)
})

test('C1: AAAA failing before A arrives: the race waits for A and starts it without delay', () => {
  const o = simulate({ queries: [6, 4], answers: [{ at: 5, query: 6, fail: 'ENODATA' }, { at: 20, query: 4, addresses: ['192.0.2.1'] }], fates: {}, until: 100 })
  assert.deepEqual(o.starts, [{ at: 20, address: '192.0.2.1' }])
})

test('C1: when every query fails the race ends with E_RESOLVE and no attempt', () => {
  const o = simulate({ queries: [6, 4], answers: [{ at: 1, query: 6, fail: 'no AAAA' }, { at: 2, query: 4, fail: 'no A' }], fates: {} })
  assert.equal(o.failure?.code, 'E_RESOLVE')
  assert.equal(o.failure?.reason, 'no-addresses')
  assert.deepEqual(o.failure?.resolveErrors.map((e) => e.message), ['no AAAA', 'no A'])
  assert.equal(o.starts.length, 0)
})

// --- C2: order ---

test('C2: families interleave from the first address, preferredFamilyCount of it first, duplicates removed', () => {
  const list = ['2001:db8::a', '2001:db8::b', '192.0.2.1', '192.0.2.2'].map(cand)
  assert.deepEqual(interleave(list).map((c) => c.address), ['2001:db8::a', '192.0.2.1', '2001:db8::b', '192.0.2.2'])
  assert.deepEqual(interleave(list, 2).map((c) => c.address), ['2001:db8::a', '2001:db8::b', '192.0.2.1', '192.0.2.2'])
  const v4first = ['192.0.2.1', '192.0.2.1', '192.0.2.2', '2001:db8::a'].map(cand)
  assert.deepEqual(interleave(v4first).map((c) => c.address), ['192.0.2.1', '2001:db8::a', '192.0.2.2'])
  // The race itself follows the same order.
  const o = simulate({ answers: [{ at: 0, query: 'any', addresses: list.map((c) => c.address) }], fates: {}, until: 1000 })
  assert.deepEqual(startOrder(o), interleave(list).map((c) => c.address))
  const o2 = simulate({ options: { preferredFamilyCount: 2 }, answers: [{ at: 0, query: 'any', addresses: list.map((c) => c.address) }], fates: {}, until: 1000 })
  assert.deepEqual(startOrder(o2), interleave(list, 2).map((c) => c.address))
})

// --- C3: staggering ---

test('C3: start times are [0, 250, 500] when nothing answers, and no attempt is aborted by the next', () => {
  const o = simulate({ answers: [{ at: 0, query: 'any', addresses: ['2001:db8::1', '192.0.2.1', '2001:db8::2'] }], fates: {}, until: 600 })
  assert.deepEqual(startTimes(o), [0, 250, 500])
  assert.equal(o.cancelled.length, 0)
  assert.equal(o.live.size, 3)
})

test('C3: when the latest attempt fails, the next starts at once, but never within 10 ms of the previous start', () => {
  const o = simulate({ answers: [{ at: 0, query: 'any', addresses: ['2001:db8::1', '192.0.2.1', '2001:db8::2'] }], fates: { '2001:db8::1': { failAfter: 1, errno: 'EINVAL' } }, until: 600 })
  assert.deepEqual(startTimes(o), [0, 10, 260])
  const later = simulate({ answers: [{ at: 0, query: 'any', addresses: ['2001:db8::1', '192.0.2.1', '2001:db8::2'] }], fates: { '2001:db8::1': { failAfter: 40, errno: 'EHOSTUNREACH' } }, until: 600 })
  assert.deepEqual(startTimes(later), [0, 40, 290])
})

test('C3: the failure of an older attempt does not hurry the next start', () => {
  const o = simulate({ answers: [{ at: 0, query: 'any', addresses: ['2001:db8::1', '192.0.2.1', '2001:db8::2'] }], fates: { '2001:db8::1': { failAfter: 300, errno: 'ETIMEDOUT' } }, until: 600 })
  assert.deepEqual(startTimes(o), [0, 250, 500])
})

test('C3 (the case Node\'s own racing fails): IPv6 slow but working, IPv4 blackholed: connects over IPv6 at ~1 s', () => {
  const o = simulate({ answers: [{ at: 0, query: 'any', addresses: ['::1', '192.0.2.1'] }], fates: { '::1': { connectAfter: 1003 }, '192.0.2.1': 'never' } })
  assert.equal(o.winner, '::1')
  assert.equal(o.doneAt, 1003)
  assert.deepEqual(o.cancelled, ['192.0.2.1'])
})

test('C3 attemptDelay is configurable and the 10 ms floor holds', () => {
  const o = simulate({ options: { attemptDelayMs: 100 }, answers: [{ at: 0, query: 'any', addresses: ['2001:db8::1', '192.0.2.1', '2001:db8::2'] }], fates: {}, until: 300 })
  assert.deepEqual(startTimes(o), [0, 100, 200])
  const floor = simulate({ options: { attemptDelayMs: 1 }, answers: [{ at: 0, query: 'any', addresses: ['2001:db8::1', '192.0.2.1'] }], fates: {}, until: 300 })
  assert.deepEqual(startTimes(floor), [0, 10])
})

// --- C4: answers that change mid-race ---

test('C4: a late answer is sorted into the remaining addresses keeping the interleave; a vanished address already tried keeps going', () => {
  const o = simulate({
    queries: [6, 4],
    answers: [
      { at: 0, query: 6, addresses: ['2001:db8::1', '2001:db8::2', '2001:db8::3'] },
      { at: 100, query: 4, addresses: ['192.0.2.1'] },
      // A re-answer drops ::1 (running) and ::3 (not yet tried).
      { at: 300, query: 6, addresses: ['2001:db8::2', '2001:db8::4'] },
    ],
    fates: {},
    until: 1200,
  })
  assert.deepEqual(startOrder(o), ['2001:db8::1', '192.0.2.1', '2001:db8::2', '2001:db8::4'])
  assert.ok(o.live.has('2001:db8::1'), 'the running attempt to a vanished address is not cancelled')
})

test('C4: an answer arriving after every attempt failed starts at once (min gap kept)', () => {
  const o = simulate({
    queries: [6, 4],
    answers: [{ at: 0, query: 6, addresses: ['2001:db8::1'] }, { at: 200, query: 4, addresses: ['192.0.2.1'] }],
    fates: { '2001:db8::1': { failAfter: 5, errno: 'EINVAL' }, '192.0.2.1': { connectAfter: 1 } },
  })
  assert.deepEqual(o.starts, [{ at: 0, address: '2001:db8::1' }, { at: 200, address: '192.0.2.1' }])
  assert.equal(o.winner, '192.0.2.1')
})

// --- C5: the winner closes the rest ---

test('C5: the first to connect wins, every other attempt is destroyed at once, a late connect is closed', () => {
  const o = simulate({
    answers: [{ at: 0, query: 'any', addresses: ['2001:db8::1', '192.0.2.1', '2001:db8::2'] }],
    fates: { '2001:db8::1': { connectAfter: 600 }, '192.0.2.1': { connectAfter: 300 }, '2001:db8::2': 'never' },
  })
  assert.equal(o.winner, '192.0.2.1')
  assert.equal(o.doneAt, 550)
  assert.deepEqual(o.cancelled.sort(), ['2001:db8::1', '2001:db8::2'])
  assert.deepEqual([...o.live], ['192.0.2.1'])
})

test('C5: an attempt that connects after the race was won is answered with a close', () => {
  const race = new HappyEyeballs()
  race.handle(0, { type: 'start', queries: ['any'] })
  const cmds = race.handle(0, { type: 'resolved', query: 'any', addresses: [cand('::1'), cand('127.0.0.1')] })
  assert.ok(cmds.some((c) => c.type === 'start-attempt' && c.id === 1))
  race.handle(250, { type: 'timer' })
  const win = race.handle(260, { type: 'connected', id: 2 })
  assert.deepEqual(win.filter((c) => c.type === 'cancel-attempt'), [{ type: 'cancel-attempt', id: 1 }])
  assert.deepEqual(race.handle(270, { type: 'connected', id: 1 }), [{ type: 'cancel-attempt', id: 1 }])
  assert.deepEqual(race.attemptedAddresses, ['::1', '127.0.0.1'])
})

// --- C6: one error listing every address ---

test('C6: every attempt failing gives one failure in attempt order, each with its errno, phase and times', () => {
  const o = simulate({
    answers: [{ at: 0, query: 'any', addresses: ['2001:db8:3::1', '127.0.0.1', '2001:db8:4::1'] }],
    // Out-of-order failures: the list is still in attempt order.
    fates: { '2001:db8:3::1': { failAfter: 400, errno: 'EINVAL' }, '127.0.0.1': { failAfter: 1, errno: 'ECONNREFUSED' }, '2001:db8:4::1': { failAfter: 2, errno: 'EHOSTUNREACH' } },
  })
  assert.equal(o.failure?.code, 'E_CONNECT_FAILED')
  assert.equal(o.failure?.reason, 'failed')
  assert.deepEqual(o.failure?.attempts.map((a) => [a.address, a.errno, a.phase, a.startedMs, a.endedMs]), [
    ['2001:db8:3::1', 'EINVAL', 'connect', 0, 400],
    ['127.0.0.1', 'ECONNREFUSED', 'connect', 250, 251],
    ['2001:db8:4::1', 'EHOSTUNREACH', 'connect', 260, 262],
  ])
  assert.equal(o.doneAt, 400)
})

test('C6: the deadline ends the race: running attempts get phase timeout, untried addresses are listed', () => {
  const o = simulate({ options: { timeoutMs: 400 }, answers: [{ at: 0, query: 'any', addresses: ['2001:db8::1', '192.0.2.1', '2001:db8::2'] }], fates: {} })
  assert.equal(o.doneAt, 400)
  assert.equal(o.failure?.reason, 'timeout')
  assert.deepEqual(o.failure?.attempts.map((a) => [a.address, a.phase, a.errno]), [['2001:db8::1', 'timeout', 'ETIMEDOUT'], ['192.0.2.1', 'timeout', 'ETIMEDOUT']])
  assert.deepEqual(o.failure?.untried.map((c) => c.address), ['2001:db8::2'])
  assert.equal(o.live.size, 0)
})

// --- C7: cancellation ---

test('C7: abort at 100 ms stops the timers and every socket, with E_CANCELLED', () => {
  const o = simulate({ abortAt: 100, answers: [{ at: 0, query: 'any', addresses: ['2001:db8::1', '192.0.2.1'] }], fates: {} })
  assert.equal(o.failure?.code, 'E_CANCELLED')
  assert.equal(o.live.size, 0)
  assert.deepEqual(startTimes(o), [0], 'nothing starts after the abort')
  assert.deepEqual(o.failure?.attempts.map((a) => a.phase), ['cancelled'])
})

test('C7: abort while still resolving leaves nothing behind', () => {
  const o = simulate({ queries: [6, 4], abortAt: 10, answers: [{ at: 0, query: 4, addresses: ['192.0.2.1'] }, { at: 80, query: 6, addresses: ['2001:db8::1'] }], fates: {} })
  assert.equal(o.failure?.code, 'E_CANCELLED')
  assert.equal(o.starts.length, 0)
})

// --- C8: events ---

test('C8: the event sequence of a race (IPv6 fails fast, IPv4 connects)', () => {
  const o = simulate({ answers: [{ at: 0, query: 'any', addresses: ['2001:db8:3::1', '127.0.0.1'] }], fates: { '2001:db8:3::1': { failAfter: 0, errno: 'EINVAL' }, '127.0.0.1': { connectAfter: 2 } } })
  assert.deepEqual(o.events.map((e) => `${e.type} ${e.address} @${e.atMs}`), [
    'attempt-start 2001:db8:3::1 @0',
    'attempt-fail 2001:db8:3::1 @0',
    'attempt-start 127.0.0.1 @10',
    'winner 127.0.0.1 @12',
  ])
  const t = simulate({ options: { timeoutMs: 300 }, answers: [{ at: 0, query: 'any', addresses: ['2001:db8::1'] }], fates: {} })
  assert.deepEqual(t.events.map((e) => `${e.type} @${e.atMs}`), ['attempt-start @0', 'attempt-timeout @300'])
})

// --- the driver over a fake runtime ---

test('driver: carries out the commands with real timers; a loser that connects late is disposed', async () => {
  const disposed: string[] = []
  const delays: Record<string, number> = { '2001:db8::1': 60, '192.0.2.1': 20 }
  const started: string[] = []
  const result = await raceDial<string>({
    text: 'tcp/client:x:1',
    port: 1,
    candidates: [cand('2001:db8::1'), cand('192.0.2.1')],
    race: { attemptDelayMs: 10 },
    attempt: (c, signal) => {
      started.push(c.address)
      // Ignores abort on purpose: a socket that connects anyway must still be closed.
      void signal
      return new Promise((resolve) => setTimeout(() => resolve(c.address), delays[c.address]))
    },
    dispose: (r) => disposed.push(r),
  })
  assert.equal(result, '192.0.2.1')
  // The loser connects later anyway (its attempt ignores the abort): it is disposed of then.
  await waitFor(() => disposed.length > 0, 'the late connection to be disposed of', 1000, 5)
  assert.deepEqual(disposed, ['2001:db8::1'])
})

test('driver: all attempts failing rejects with a ConnectRaceError (AggregateError) listing each address', async () => {
  const fail = (errno: string) => Object.assign(new Error(`connect ${errno}`), { code: errno })
  const err = await raceDial({
    text: 'tcp/client:dual.test:80',
    port: 80,
    candidates: [cand('2001:db8:3::1'), cand('127.0.0.1')],
    attempt: (c) => Promise.reject(fail(c.family === 6 ? 'EINVAL' : 'ECONNREFUSED')),
    dispose: () => {},
  }).then(() => assert.fail('should fail'), (e: ConnectRaceError) => e)
  assert.ok(err instanceof AggregateError)
  assert.ok(err instanceof ConnectRaceError)
  assert.equal(err.name, 'ConnectRaceError')
  assert.equal(err.code, 'E_CONNECT_FAILED')
  assert.deepEqual(err.errors.map((e) => e.errno), ['EINVAL', 'ECONNREFUSED'])
  assert.equal(err.primary?.errno, 'EINVAL')
  assert.equal(err.primary?.port, 80)
  assert.match(err.message, /\[2001:db8:3::1\]:80 EINVAL.*127\.0\.0\.1:80 ECONNREFUSED/)
})

test('driver: an AbortSignal cancels the race and every pending attempt sees its own abort', async () => {
  const controller = new AbortController()
  const aborted: string[] = []
  const started: string[] = []
  const p = raceDial({
    text: 'tcp/client:x:1',
    port: 1,
    candidates: [cand('2001:db8::1'), cand('192.0.2.1')],
    race: { attemptDelayMs: 20 },
    signal: controller.signal,
    attempt: (c, signal) => {
      started.push(c.address)
      return new Promise((_, reject) => signal.addEventListener('abort', () => {
        aborted.push(c.address)
        reject(signal.reason)
      }))
    },
    dispose: () => {},
  })
  // Cancelled once both attempts are under way.
  await waitFor(() => started.length === 2, 'both attempts to start', 1000, 1)
  controller.abort()
  const err = await p.then(() => assert.fail('should be cancelled'), (e) => e)
  assert.equal(err.code, 'E_CANCELLED')
  assert.deepEqual(aborted.sort(), ['192.0.2.1', '2001:db8::1'])
})

test('driver: separate AAAA and A queries (C1) with the resolution delay on real timers', async () => {
  const started: { address: string; at: number }[] = []
  const t0 = performance.now()
  const winner = await raceDial<string>({
    text: 'x',
    port: 1,
    queries: [
      { query: 6, lookup: () => new Promise((r) => setTimeout(() => r([cand('::1')]), 20)) },
      { query: 4, lookup: async () => [cand('127.0.0.1')] },
    ],
    attempt: (c) => {
      started.push({ address: c.address, at: performance.now() - t0 })
      return new Promise((r) => setTimeout(() => r(c.address), 5))
    },
    dispose: () => {},
  })
  assert.equal(winner, '::1')
  assert.equal(started[0]?.address, '::1')
  assert.ok(started[0]!.at >= 15, `the first attempt waited for AAAA (${started[0]!.at} ms)`)
})
