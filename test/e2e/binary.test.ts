import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from '../harness.ts'
import { RECORDS, dig, startDnsmasq } from '../helpers/dns.ts'
import { CLI, ROOT, run, startOnFreePort } from '../helpers/processes.ts'

// `npm run compile` builds one executable with `bun build --compile`; here the built file runs as
// the far half of a real tunnel whose near half is this runtime's CLI.
test('the single binary built by bun build --compile runs as a half in a real tunnel', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'edgerelay-bin-'))
  t.defer(() => rmSync(dir, { recursive: true, force: true }))
  const binary = join(dir, 'edgerelay')
  const build = await run([`${ROOT}node_modules/.bin/bun`, 'build', '--compile', '--conditions=edgerelay-source', `${ROOT}src/cli/main.ts`, '--outfile', binary], 60_000)
  assert.equal(build.code, 0, build.stderr)
  assert.match((await run([binary, 'version'])).stdout, /^edgerelay \d+\.\d+\.\d+/)

  const dns = await startDnsmasq(t)
  const { port: tunnelPort } = await startOnFreePort(t, (port) => [binary, '--in', `tcp/server:127.0.0.1:${port}`, '--out', `udp/broadcast:127.0.0.1:${dns}`, '--codec', 'msgpack'], /listening on/)
  const { port: nearPort } = await startOnFreePort(t, (port) => [...CLI[t.runtime], '--in', `udp/listen:127.0.0.1:${port}`, '--out', `tcp/client:127.0.0.1:${tunnelPort}`, '--codec', 'msgpack'], /connected to/)
  assert.equal(await dig(nearPort, 'host.example'), RECORDS['host.example'])
}, { timeout: 60_000 })
