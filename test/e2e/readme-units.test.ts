import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from '../harness.ts'
import { needPeers } from '../helpers/peers.ts'
import { ROOT, run } from '../helpers/processes.ts'

// README's systemd units, as printed there, pass systemd-analyze verify.
test('README\'s edgerelay.socket and edgerelay.service pass systemd-analyze verify', async (t) => {
  needPeers('systemd-analyze')
  const readme = readFileSync(`${ROOT}README.md`, 'utf8')
  const units = [...readme.matchAll(/```ini\n# \/etc\/systemd\/system\/(edgerelay\.(?:socket|service))\n([\s\S]*?)```/g)]
  assert.deepEqual(units.map((u) => u[1]), ['edgerelay.socket', 'edgerelay.service'])
  const dir = mkdtempSync(join(tmpdir(), 'edgerelay-units-'))
  t.defer(() => rmSync(dir, { recursive: true, force: true }))
  for (const [, name, body] of units) writeFileSync(join(dir, name!), body!)
  const verify = await run(['systemd-analyze', 'verify', join(dir, 'edgerelay.socket'), join(dir, 'edgerelay.service')], 30_000)
  assert.equal(verify.code, 0, verify.stdout + verify.stderr)
  assert.doesNotMatch(verify.stdout + verify.stderr, /edgerelay\.(socket|service):/, 'systemd-analyze found something to say about the units')
})
