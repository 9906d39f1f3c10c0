import assert from 'node:assert/strict'
import { test } from '../harness.ts'
import { ROOT, run } from '../helpers/processes.ts'

// JSR publishes the TypeScript sources as they are (deno.json `publish`); its dry run type-checks
// every export and rejects slow types (exports whose types need inference), which this runs with
// no --allow-slow-types. --allow-dirty: a checkout being worked on has uncommitted files.
test('deno publish --dry-run passes with no slow-type escape hatch and would publish only the library sources', async () => {
  const r = await run([`${ROOT}node_modules/.bin/deno`, 'publish', '--dry-run', '--allow-dirty'], 120_000)
  const out = (r.stdout + r.stderr).replace(/\x1b\[[0-9;]*m/g, '')
  assert.equal(r.code, 0, out)
  assert.match(out, /Checking for slow types in the public API/)
  assert.match(out, /Dry run complete/)
  assert.doesNotMatch(out, /warning\[/, 'the dry run warned')
  const files = [...out.matchAll(/file:\/\/(\S+) \(/g)].map((m) => m[1]!.slice(ROOT.length))
  const unexpected = files.filter((f) => !['mod.ts', 'deno.json', 'README.md', 'LICENSE'].includes(f) && !(/^src\/.*\.ts$/.test(f) && !f.startsWith('src/cli/')))
  assert.deepEqual(unexpected, [], 'published files beyond mod.ts, the library under src/ (not the CLI), README, LICENSE and deno.json')
  for (const f of ['mod.ts', 'LICENSE', 'src/half/start-half.ts', 'src/adapter/deno/index.ts', 'src/browser/client.ts']) assert.ok(files.includes(f), `${f} is not published:\n${files.join('\n')}`)
}, { timeout: 150_000 })
