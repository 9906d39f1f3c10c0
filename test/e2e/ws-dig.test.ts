import assert from 'node:assert/strict'
import { test } from '../harness.ts'
import { RECORDS, dig, startDnsmasq } from '../helpers/dns.ts'
import { half } from '../helpers/halves.ts'
import { freePort } from '../helpers/ports.ts'
import { CLI, cleanExit, startProcess } from '../helpers/processes.ts'
import { runInterop } from '../helpers/python.ts'

// End to end over WebSocket with programs nobody here wrote: dig → near half (this runtime's
// CLI) → ws tunnel → far half → dnsmasq; and Debian's python3-websockets speaking to ws/server
// from the published schema alone.

test('dig through the real CLI halves over a ws tunnel, with a token', async (t) => {
  const cli = CLI[t.runtime]
  const dns = await startDnsmasq(t)
  const [tunnelPort, nearPort] = [await freePort(), await freePort()]
  const far = startProcess(t, [...cli, '--in', `ws/server:127.0.0.1:${tunnelPort}/tunnel`, '--out', `udp/broadcast:127.0.0.1:${dns}`, '--token', 'e2e-secret'])
  await far.waitFor(/listening on/)
  const near = startProcess(t, [...cli, '--in', `udp/listen:127.0.0.1:${nearPort}`, '--out', `ws/client:ws://127.0.0.1:${tunnelPort}/tunnel`, '--token', 'e2e-secret'])
  await near.waitFor(/connected to/)
  assert.equal(await dig(nearPort, 'host.example'), RECORDS['host.example'])
  assert.equal(await dig(nearPort, 'other.example'), RECORDS['other.example'])
  assert.ok(cleanExit(await near.stop(), near.output(), t.runtime), near.output())
  assert.ok(cleanExit(await far.stop(), far.output(), t.runtime), far.output())
}, { timeout: 30_000 })

test('python3-websockets, following only the schema and DESIGN.md, gets a DNS answer through ws/server', async (t) => {
  const dns = await startDnsmasq(t)
  const far = await half(t, { in: 'ws/server:127.0.0.1:0/tunnel', out: `udp/broadcast:127.0.0.1:${dns}`, token: 'py-token' })
  const url = `ws://127.0.0.1:${far.inAddresses()[0]!.port}/tunnel`
  const ok = await runInterop('ws_client.py', [url, 'py-token', 'many.example'])
  assert.deepEqual(ok, { status: 'ok', flow: 42, id: 7, kind: 'REPLY', answers: [RECORDS['many.example']] })
  const refused = await runInterop('ws_client.py', [url, 'not-the-token', 'many.example'])
  assert.deepEqual(refused, { status: 'refused', http: 401 })
}, { timeout: 30_000 })
