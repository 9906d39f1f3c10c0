/**
 * The fuzz targets of test/fuzz/targets.ts (issue 13 item 9), each for a bounded time: in `npm
 * test` 300 inputs or 400 ms per target on each runtime; `npm run fuzz` sets FUZZ_SECONDS (and may
 * set FUZZ_SEED to replay a failure, which fast-check prints with the input that failed). A run
 * also fails when one input takes longer than HANG_MS: a parser must not stall on what it is sent.
 */
import fc from 'fast-check'
import process from 'node:process'
import { test } from '../harness.ts'
import { TARGETS } from './targets.ts'

const seconds = Number(process.env.FUZZ_SECONDS ?? 0)
const numRuns = seconds > 0 ? Number.MAX_SAFE_INTEGER : 300
const timeLimitMs = seconds > 0 ? seconds * 1000 : 400
const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED)
/** Longest time one input may take (a hang or a quadratic blow-up shows up here). */
const HANG_MS = 250

for (const target of TARGETS) {
  test(`fuzz: ${target.name}`, () => {
    let runs = 0
    let taken = 0
    fc.assert(fc.property(target.input, (input) => {
      const started = performance.now()
      if (target.run(input)) taken++
      runs++
      const took = performance.now() - started
      if (took > HANG_MS) throw new Error(`one input took ${Math.round(took)} ms (more than ${HANG_MS})`)
    }), { numRuns, interruptAfterTimeLimit: timeLimitMs, ...(seed === undefined ? {} : { seed }) })
    // A target whose every input is refused at the first byte tests nothing past it.
    if (runs >= 100 && taken === 0) throw new Error(`none of ${runs} inputs got past the parser's first checks: the generator needs better seeds`)
    if (seconds > 0) console.log(`# ${target.name}: ${runs} inputs, ${taken} taken`)
  }, { timeout: timeLimitMs + 30_000 })
}
