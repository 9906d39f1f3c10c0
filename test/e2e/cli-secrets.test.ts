import assert from 'node:assert/strict'
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import process from 'node:process'
import { test, type TestContext } from '../harness.ts'
import { testCerts } from '../helpers/certs.ts'
import { CLI, run, startOnFreePort, startProcess } from '../helpers/processes.ts'
import { echoDevice, roundTrip } from '../helpers/udp.ts'

// The tunnel token from a file (--token-file) or the environment (EDGERELAY_TOKEN) instead of the
// command line, where ps shows it to every user; secret files others may read get a warning.

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgerelay-secrets-'))
  t.defer(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A file holding `text` with permission bits `mode`. */
function secretFile(dir: string, name: string, text: string, mode: number): string {
  const path = join(dir, name)
  writeFileSync(path, text)
  chmodSync(path, mode)
  return path
}

test('a far half with --token-file and a near half with EDGERELAY_TOKEN relay; a wrong EDGERELAY_TOKEN is refused', async (t) => {
  const cli = CLI[t.runtime]
  const dir = tempDir(t)
  const device = await echoDevice(t)
  const tokenFile = secretFile(dir, 'token', 's3cret-from-file\n', 0o600)
  const { proc: far, port } = await startOnFreePort(t, (port) => [...cli, '--in', `tcp/server:127.0.0.1:${port}`, '--out', `udp/broadcast:127.0.0.1:${device.port}`, '--token-file', tokenFile], /listening on/)
  const { proc: near, port: nearPort } = await startOnFreePort(t, (nearPort) => [...cli, '--in', `udp/listen:127.0.0.1:${nearPort}`, '--out', `tcp/client:127.0.0.1:${port}`], /connected to/, { env: { EDGERELAY_TOKEN: 's3cret-from-file' } })
  assert.equal(await roundTrip(t, nearPort, 'ping'), 'reply0:ping')
  const wrong = startProcess(t, [...cli, '--in', 'udp/listen:127.0.0.1:0', '--out', `tcp/client:127.0.0.1:${port}`, '--max-retries', '0'], { env: { EDGERELAY_TOKEN: 'guessed' } })
  await wrong.waitFor(/token/i)
  await far.waitFor(/refused peer .*token/i)
  for (const p of [far, near, wrong]) assert.doesNotMatch(p.output(), /W_SECRET_FILE_READABLE|W_TOKEN_ON_COMMAND_LINE/)
}, { timeout: 40_000 })

test('a token file or --key file that others may read gets a warning naming it and its mode; the half still starts', async (t) => {
  const cli = CLI[t.runtime]
  const dir = tempDir(t)
  const { files } = testCerts()
  const key = join(dir, 'server.key')
  copyFileSync(files.serverKey, key)
  chmodSync(key, 0o644)
  const token = secretFile(dir, 'token', 'tok\n', 0o640)
  const far = startProcess(t, [...cli, '--in', 'tls/server:127.0.0.1:0', '--out', 'udp/broadcast:127.0.0.1:9', '--cert', files.serverCert, '--key', key, '--token-file', token])
  await far.waitFor(/listening on/)
  assert.match(far.output(), new RegExp(`the --key file '${key}' can be read by every user \\(mode 644\\): chmod 600 it`))
  assert.match(far.output(), new RegExp(`--token-file '${token}' can be read by its group \\(mode 640\\)`))
  // The same files at 600 draw no warning (root reads any file, so mode is all that is checked).
  chmodSync(key, 0o600)
  chmodSync(token, 0o600)
  const quiet = startProcess(t, [...cli, '--in', 'tls/server:127.0.0.1:0', '--out', 'udp/broadcast:127.0.0.1:9', '--cert', files.serverCert, '--key', key, '--token-file', token])
  await quiet.waitFor(/listening on/)
  assert.doesNotMatch(quiet.output(), /can be read by/)
}, { timeout: 30_000 })

test('--token on the command line still works but warns that ps shows it', async (t) => {
  const far = startProcess(t, [...CLI[t.runtime], '--in', 'tcp/server:127.0.0.1:0', '--out', 'udp/broadcast:127.0.0.1:9', '--token', 'visible'])
  await far.waitFor(/listening on/)
  assert.match(far.output(), /--token on the command line can be read by every user of this machine \(ps, \/proc\): use --token-file or EDGERELAY_TOKEN \[W_TOKEN_ON_COMMAND_LINE\]/)
})

test('--token with --token-file, a missing token file and an empty one are configuration errors (exit 2)', async (t) => {
  const dir = tempDir(t)
  const base = [...CLI[t.runtime], '--in', 'tcp/server:127.0.0.1:0', '--out', 'udp/broadcast:127.0.0.1:9']
  const both = await run([...base, '--token', 'a', '--token-file', secretFile(dir, 'token', 'b\n', 0o600)])
  assert.equal(both.code, 2, both.stderr)
  assert.match(both.stderr, /give the token once, with --token or --token-file/)
  const missing = await run([...base, '--token-file', join(dir, 'nope')])
  assert.equal(missing.code, 2, missing.stderr)
  assert.match(missing.stderr, /cannot read --token-file '.*nope'/)
  const empty = await run([...base, '--token-file', secretFile(dir, 'empty', '\n', 0o600)], 15_000, { env: { ...process.env, EDGERELAY_TOKEN: 'ignored' } })
  assert.equal(empty.code, 2, empty.stderr)
  assert.match(empty.stderr, /the --token-file '.*empty' is empty/)
})
