import assert from 'node:assert/strict'
import { test } from '../harness.ts'
import { RECORDS, dig, startDnsmasq } from '../helpers/dns.ts'
import { freePort } from '../helpers/free-ports.mjs'
import { CLI, cleanExit, startProcess } from '../helpers/processes.ts'

// End to end with programs nobody here wrote: dig → near half (this runtime's CLI) → tcp tunnel →
// far half (same runtime) → dnsmasq, in every codec and both tunnel directions.
const CODECS = ['protobuf', 'avro', 'msgpack', 'uhppoted']

for (const codec of CODECS) {
  test(`dig through the real CLI halves over tcp (${codec})`, async (t) => {
    const cli = CLI[t.runtime]
    const dns = await startDnsmasq(t)
    const [tunnelPort, nearPort] = [await freePort(), await freePort()]
    // The near half starts first: it must retry until the far half is up.
    const near = startProcess(t, [...cli, '--in', `udp/listen:127.0.0.1:${nearPort}`, '--out', `tcp/client:127.0.0.1:${tunnelPort}`, '--codec', codec, '--max-retry-delay', '500ms'])
    await near.waitFor(/listening on 127\.0\.0\.1/)
    const far = startProcess(t, [...cli, '--in', `tcp/server:127.0.0.1:${tunnelPort}`, '--out', `udp/broadcast:127.0.0.1:${dns}`, '--codec', codec])
    await far.waitFor(/listening on/)
    await near.waitFor(/connected to/)
    assert.equal(await dig(nearPort, 'host.example'), RECORDS['host.example'])
    assert.equal(await dig(nearPort, 'other.example'), RECORDS['other.example'])
    assert.ok(cleanExit(await near.stop(), near.output(), t.runtime), near.output())
    assert.ok(cleanExit(await far.stop(), far.output(), t.runtime), far.output())
  }, { timeout: 30_000 })
}

test('dig through a reverse tunnel: the far half dials out', async (t) => {
  const cli = CLI[t.runtime]
  const dns = await startDnsmasq(t)
  const [tunnelPort, nearPort] = [await freePort(), await freePort()]
  const near = startProcess(t, [...cli, '--in', `udp/listen:127.0.0.1:${nearPort}`, '--out', `tcp/server:127.0.0.1:${tunnelPort}`])
  await near.waitFor(/tcp\/server listening/)
  const far = startProcess(t, [...cli, '--in', `tcp/client:127.0.0.1:${tunnelPort}`, '--out', `udp/broadcast:127.0.0.1:${dns}`])
  await far.waitFor(/connected to/)
  assert.equal(await dig(nearPort, 'many.example'), RECORDS['many.example'])
}, { timeout: 30_000 })

test('a config file in uhppoted-tunnel TOML runs the section it names', async (t) => {
  const { writeFileSync, mkdtempSync } = await import('node:fs')
  const { join } = await import('node:path')
  const { tmpdir } = await import('node:os')
  const cli = CLI[t.runtime]
  const dns = await startDnsmasq(t)
  const [tunnelPort, nearPort] = [await freePort(), await freePort()]
  const dir = mkdtempSync(join(tmpdir(), 'edgerelay-'))
  const file = join(dir, 'tunnel.toml')
  writeFileSync(file, [
    '[defaults]', 'max-retries = -1', 'max-retry-delay = "500ms"', 'udp-timeout = "2s"', '',
    '[host]', `in = "udp/listen:127.0.0.1:${nearPort}"`, `out = "tcp/client:127.0.0.1:${tunnelPort}"`, '',
    '[client]', `in = "tcp/server:127.0.0.1:${tunnelPort}"`, `out = "udp/broadcast:127.0.0.1:${dns}"`, 'log-level = "info"', '',
  ].join('\n'))
  const far = startProcess(t, [...cli, '--config', `${file}#client`])
  await far.waitFor(/listening on/)
  const near = startProcess(t, [...cli, '--config', `${file}#host`, '--console'])
  await near.waitFor(/connected to/)
  assert.equal(await dig(nearPort, 'host.example'), RECORDS['host.example'])
}, { timeout: 30_000 })
