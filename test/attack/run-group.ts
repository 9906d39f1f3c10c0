/**
 * One attack test per scenario of a group (test/attack/scenarios.ts), on the runtime running the
 * tests: the half under attack is that runtime's CLI under `ulimit -n 256`, so its default limits
 * are small and a flood of a few hundred reaches them. Each test asserts what issue 13 asks: the
 * half stays up, a legitimate client on another connection keeps getting replies throughout,
 * descriptors stay under the limit and within what the half's limits allow, memory stays flat,
 * and the log grows by a bounded number of lines.
 */
import assert from 'node:assert/strict'
import { test } from '../harness.ts'
import { needPeers } from '../helpers/peers.ts'
import { SCENARIOS, runScenario, type Scenario } from './scenarios.ts'

export const FD_LIMIT = 256
/** Connections, calls or flows per attack: past every default limit at FD_LIMIT. */
export const SIZE = 300
export const MEGABYTES = 64
/** Log lines an attack may add: a few kinds, each at most 10 lines and a summary per 10 s. */
const LOG_LINES = 40
const RSS_GROWTH_MB = { idle: 64, auth: 64, limits: 64, size: 24 }

export function attackTests(group: Scenario['group']): void {
  for (const s of SCENARIOS.filter((x) => x.group === group)) {
    test(s.name, async (t) => {
      needPeers('openssl')
      // A short --udp-timeout: a gRPC call the attacker half-closes ends that much later.
      const r = await runScenario(s, t.runtime, { fdLimit: FD_LIMIT, size: SIZE, megabytes: MEGABYTES, holdMs: 1000, extra: ['--udp-timeout', '1s'] })
      const what = `${JSON.stringify({ ...r, tail: undefined })}\nlast lines of the half under attack:\n${r.tail}`
      assert.ok(r.alive, `the half stopped: ${what}`)
      const answered = r.legit.answered / Math.max(1, r.legit.sent)
      assert.ok(r.legit.sent >= 3 && answered >= 0.9 && r.legit.longestGap < 2500, `the legitimate client was not served throughout (${r.legit.answered}/${r.legit.sent}, longest gap ${r.legit.longestGap} ms): ${what}`)
      // Refused connections hold a descriptor for the moment between accept and close (a burst is
      // accepted at once on Bun and Deno): the peak is bounded by the process limit, what stays by the half's.
      assert.ok(r.fdPeak < FD_LIMIT, `descriptors reached the process limit: ${what}`)
      assert.ok(r.rssPeak - r.rssBase < RSS_GROWTH_MB[group], `memory grew by ${(r.rssPeak - r.rssBase).toFixed(1)} MB: ${what}`)
      assert.ok(r.logLines <= LOG_LINES, `the log grew by ${r.logLines} lines: ${what}`)
      s.check?.(r.notes, { size: SIZE, megabytes: MEGABYTES })
      console.log(`# ${s.name}: fds ${r.fdBase}→${r.fdPeak}, rss ${r.rssBase}→${r.rssPeak} MB, +${r.logLines} log lines, legit ${r.legit.answered}/${r.legit.sent}, ${Object.entries(r.notes).map(([k, v]) => `${k} ${v}`).join(', ')}`)
    }, { timeout: 40_000 })
  }
}
