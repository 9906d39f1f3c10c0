import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import process from 'node:process'
import { test } from '../harness.ts'
import { needPeers } from '../helpers/peers.ts'
import { ROOT, run } from '../helpers/processes.ts'

// test/run.mjs on a machine without one of the test peers: a PATH without the folders that hold
// dnsmasq stands in for a machine where Debian's dnsmasq-base is not installed.
const FIXTURE = 'test/fixtures/peers/needs-dnsmasq.ts'
const pathWithout = (program: string) => (process.env.PATH ?? '').split(delimiter).filter((dir) => !existsSync(join(dir, program))).join(delimiter)

const runner = (t: { runtime: string }, env: Record<string, string>) =>
  run(['node', `${ROOT}test/run.mjs`, FIXTURE], 60_000, { env: { ...process.env, RUNTIMES: t.runtime, ...env } })

test('npm test names a missing peer and the command that installs it, and skips the tests that need it', async (t) => {
  const r = await runner(t, { PATH: pathWithout('dnsmasq'), CI: 'false' })
  assert.equal(r.code, 0, r.stdout + r.stderr)
  assert.match(r.stdout, /^Missing \d+ of the \d+ programs the tests talk to \(tools\/peers\.txt\):\n(?: {2}\S+ +Debian package \S+\n)*? {2}dnsmasq +Debian package dnsmasq-base\n(?: {2}\S+ +Debian package \S+\n)*Install them with: {2}npm run setup /m)
  assert.match(r.stdout, /skip - fixtures\/peers\/needs-dnsmasq\.ts › starts dnsmasq \(needs dnsmasq \(Debian dnsmasq-base\): npm run setup installs it\)/)
  assert.match(r.stdout, /^0 passed, 0 failed, 1 skipped$/m)
}, { timeout: 90_000 })

test('under CI=true a test skipped for a missing peer fails the run', async (t) => {
  const r = await runner(t, { PATH: pathWithout('dnsmasq'), CI: 'true' })
  assert.equal(r.code, 1, r.stdout + r.stderr)
  assert.match(r.stdout, /CI=true: 1 test skipped for something this machine lacks, counted as failed/)
  assert.match(r.stdout, /^0 passed, 1 failed$/m)
}, { timeout: 90_000 })

test('with the peer present the same test runs and passes', async (t) => {
  needPeers('dnsmasq')
  const r = await runner(t, { CI: 'true' })
  assert.equal(r.code, 0, r.stdout + r.stderr)
  assert.doesNotMatch(r.stdout, /dnsmasq +Debian package/)
  assert.match(r.stdout, /^1 passed, 0 failed$/m)
}, { timeout: 90_000 })

test('under CI=true a test that declares it does not apply (its skip reason) stays a skip, not a failure', async (t) => {
  const r = await run(['node', `${ROOT}test/run.mjs`, 'test/fixtures/peers/not-here.ts'], 60_000, { env: { ...process.env, RUNTIMES: t.runtime, CI: 'true' } })
  assert.equal(r.code, 0, r.stdout + r.stderr)
  assert.match(r.stdout, /skip - fixtures\/peers\/not-here\.ts › does not apply \(this fixture declares it does not apply\)/)
  assert.match(r.stdout, /^0 passed, 0 failed, 1 skipped$/m)
})
