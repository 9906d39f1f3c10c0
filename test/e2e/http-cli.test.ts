import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from '../harness.ts'
import { RECORDS, startDnsmasq } from '../helpers/dns.ts'
import { dnsQuery } from '../helpers/dnsmasq.mjs'
import { CLI, cleanExit, startOnFreePort } from '../helpers/processes.ts'

// uhppoted-tunnel's command line for its HTTP connector, unchanged: --in http/<addr> --html <dir>.
test('the CLI serves uhppoted-tunnel\'s HTTP API and --html pages; a posted DNS query reaches dnsmasq', async (t) => {
  const cli = CLI[t.runtime]
  const dns = await startDnsmasq(t)
  const dir = mkdtempSync(join(tmpdir(), 'edgerelay-html-'))
  writeFileSync(join(dir, 'index.html'), '<title>controllers</title>')
  const { proc, port } = await startOnFreePort(t, (port) => [...cli, '--in', `http/127.0.0.1:${port}`, '--out', `udp/broadcast:127.0.0.1:${dns}`, '--html', dir], /http listening on/)
  const page = await fetch(`http://127.0.0.1:${port}/`)
  assert.equal(await page.text(), '<title>controllers</title>')
  const query = [...dnsQuery(0xabcd, 'other.example')]
  // udp.js's send(): "wait": true, the first reply back as "reply".
  const res = await fetch(`http://127.0.0.1:${port}/udp/send`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ID: 99, wait: true, request: query }) })
  const body = await res.json() as { ID: number; reply: number[] }
  assert.equal(body.ID, 99)
  assert.equal(body.reply.slice(-4).join('.'), RECORDS['other.example'])
  assert.ok(cleanExit(await proc.stop(), proc.output(), t.runtime), proc.output())
}, { timeout: 30_000 })
