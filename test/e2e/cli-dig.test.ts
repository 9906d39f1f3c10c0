import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from '../harness.ts'
import { RECORDS, dig, startDnsmasq } from '../helpers/dns.ts'
import { CLI, startProcess } from '../helpers/processes.ts'
import { withFreePorts } from '../helpers/with-free-ports.ts'

// dig → near half (this runtime's CLI) → tcp tunnel → far half → dnsmasq, set up in the ways
// test/e2e/dig.test.ts (every transport, the near half dialling) does not: a reverse tunnel, and
// both halves from one uhppoted-tunnel TOML file.

test('dig through a reverse tunnel: the far half dials out', async (t) => {
  const cli = CLI[t.runtime]
  const dns = await startDnsmasq(t)
  const nearPort = await withFreePorts(t, 2, async ([tunnelPort, nearPort], t) => {
    const near = startProcess(t, [...cli, '--in', `udp/listen:127.0.0.1:${nearPort}`, '--out', `tcp/server:127.0.0.1:${tunnelPort}`])
    await near.waitFor(/tcp\/server listening/)
    const far = startProcess(t, [...cli, '--in', `tcp/client:127.0.0.1:${tunnelPort}`, '--out', `udp/broadcast:127.0.0.1:${dns}`])
    await far.waitFor(/connected to/)
    return nearPort!
  })
  assert.equal(await dig(nearPort, 'many.example'), RECORDS['many.example'])
}, { timeout: 30_000 })

test('a config file in uhppoted-tunnel TOML runs the section it names', async (t) => {
  const cli = CLI[t.runtime]
  const dns = await startDnsmasq(t)
  const dir = mkdtempSync(join(tmpdir(), 'edgerelay-'))
  t.defer(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'tunnel.toml')
  const nearPort = await withFreePorts(t, 2, async ([tunnelPort, nearPort], t) => {
    writeFileSync(file, [
      '[defaults]', 'max-retries = -1', 'max-retry-delay = "500ms"', 'udp-timeout = "2s"', '',
      '[host]', `in = "udp/listen:127.0.0.1:${nearPort}"`, `out = "tcp/client:127.0.0.1:${tunnelPort}"`, '',
      '[client]', `in = "tcp/server:127.0.0.1:${tunnelPort}"`, `out = "udp/broadcast:127.0.0.1:${dns}"`, 'log-level = "info"', '',
    ].join('\n'))
    const far = startProcess(t, [...cli, '--config', `${file}#client`])
    await far.waitFor(/listening on/)
    const near = startProcess(t, [...cli, '--config', `${file}#host`, '--console'])
    await near.waitFor(/connected to/)
    return nearPort!
  })
  assert.equal(await dig(nearPort, 'host.example'), RECORDS['host.example'])
}, { timeout: 30_000 })
