/**
 * The attack scenarios of issue 13 (test/attack/scenarios.ts) at bench scale, against the CLI on
 * each runtime under `ulimit -n`: prints one Markdown row per attack and runtime with the peak
 * descriptors, peak RSS, log lines and whether the legitimate client was served throughout.
 *
 *   node -C edgerelay-source --import tsx bench/attacks.ts [--runtimes node,bun,deno] [--fd 1024]
 *        [--size 1500] [--mb 200] [--only <text>] [--json file] [-- extra CLI options for the target]
 */
import { writeFileSync } from 'node:fs'
import { SCENARIOS, runScenario, type ScenarioResult } from '../test/attack/scenarios.ts'
import type { RuntimeName } from '../test/attack/lib.ts'

const argv = process.argv.slice(2)
const dash = argv.indexOf('--')
const extra = dash >= 0 ? argv.slice(dash + 1) : []
const args = dash >= 0 ? argv.slice(0, dash) : argv
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? args[i + 1]! : fallback
}
const runtimes = opt('runtimes', 'node,bun,deno').split(',') as RuntimeName[]
const fdLimit = Number(opt('fd', '1024'))
const size = Number(opt('size', '1500'))
const megabytes = Number(opt('mb', '200'))
const only = opt('only', '')
const json = opt('json', '')

const results: ScenarioResult[] = []
console.log(`fd limit ${fdLimit}, size ${size}, ${megabytes} MB${extra.length ? `, target options ${extra.join(' ')}` : ''}\n`)
console.log('| attack | runtime | peak fds (base) | peak RSS MB (base) | log lines | legit answered/sent (longest gap ms) | alive | notes |')
console.log('|---|---|---|---|---|---|---|---|')
for (const s of SCENARIOS) {
  if (only && !s.name.includes(only)) continue
  for (const runtime of runtimes) {
    try {
      const r = await runScenario(s, runtime, { fdLimit, size, megabytes, extra })
      results.push(r)
      const notes = Object.entries(r.notes).map(([k, v]) => `${k} ${v}`).join(', ')
      console.log(`| ${s.name} | ${runtime} | ${r.fdPeak} (${r.fdBase}) | ${r.rssPeak} (${r.rssBase}) | ${r.logLines} | ${r.legit.answered}/${r.legit.sent} (${r.legit.longestGap}) | ${r.alive ? 'yes' : 'NO'} | ${notes} |`)
    } catch (err) {
      console.log(`| ${s.name} | ${runtime} | error: ${(err as Error).message.split('\n')[0]} |`)
    }
  }
}
if (json) writeFileSync(json, JSON.stringify(results, null, 2))
process.exit(0)
