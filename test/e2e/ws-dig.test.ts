import assert from 'node:assert/strict'
import { test } from '../harness.ts'
import { RECORDS, startDnsmasq } from '../helpers/dns.ts'
import { digThroughCliHalves } from '../helpers/cli-dig.ts'
import { half } from '../helpers/halves.ts'
import { runInterop } from '../helpers/python.ts'

// End to end over WebSocket with programs nobody here wrote: dig → near half (this runtime's
// CLI) → ws tunnel → far half → dnsmasq; and Debian's python3-websockets speaking to ws/server
// from the published schema alone.

test('dig through the real CLI halves over a ws tunnel, with a token', async (t) => {
  await digThroughCliHalves(t, (p) => `ws/server:127.0.0.1:${p}/tunnel`, (p) => `ws/client:ws://127.0.0.1:${p}/tunnel`, ['--token', 'e2e-secret'])
}, { timeout: 30_000 })

test('python3-websockets, following only the schema and docs/wire-protocol.md, gets a DNS answer through ws/server', async (t) => {
  const dns = await startDnsmasq(t)
  const far = await half(t, { in: 'ws/server:127.0.0.1:0/tunnel', out: `udp/broadcast:127.0.0.1:${dns}`, token: 'py-token' })
  const url = `ws://127.0.0.1:${far.inAddresses()[0]!.port}/tunnel`
  const ok = await runInterop('ws_client.py', [url, 'py-token', 'many.example'])
  assert.deepEqual(ok, { status: 'ok', flow: 42, id: 7, kind: 'REPLY', answers: [RECORDS['many.example']] })
  const refused = await runInterop('ws_client.py', [url, 'not-the-token', 'many.example'])
  assert.deepEqual(refused, { status: 'refused', http: 401 })
}, { timeout: 30_000 })
