import assert from 'node:assert/strict'
import { test } from '../harness.ts'
import { RECORDS, dig, startDnsmasq } from '../helpers/dns.ts'
import { half } from '../helpers/halves.ts'
import { ROOT, startProcess } from '../helpers/processes.ts'
import { needPeers } from '../helpers/peers.ts'
import { INTEROP_MODULES, PYTHON, pythonStubs, runInterop } from '../helpers/python.ts'

// ZeroMQ end to end with libzmq on the other side (Debian's python3-zmq) in both directions (dig
// through two edgerelay halves over zmq is a row of test/e2e/dig.test.ts).

test('a libzmq DEALER (python3-zmq) gets a DNS answer through zmq/server; a wrong token gets nothing', async (t) => {
  const dns = await startDnsmasq(t)
  const far = await half(t, { in: 'zmq/server:127.0.0.1:0', out: `udp/broadcast:127.0.0.1:${dns}`, token: 'py-token' })
  const endpoint = `tcp://127.0.0.1:${far.inAddresses()[0]!.port}`
  const ok = await runInterop('zmq_peer.py', ['dealer', endpoint, 'py-token', 'many.example'])
  assert.deepEqual(ok, { status: 'ok', flow: 42, id: 7, kind: 'REPLY', answers: [RECORDS['many.example']] })
  const refused = await runInterop('zmq_peer.py', ['dealer', endpoint, 'not-the-token', 'many.example'])
  assert.deepEqual(refused, { status: 'silent' })
  assert.ok(far.lines.some((l) => /refused ZMTP peer .*wrong token/.test(l)), far.lines.join('\n'))
  assert.equal(far.stats.get('tunnel.accepted'), 1)
}, { timeout: 30_000 })

test('dig through zmq/client to a libzmq ROUTER (python3-zmq) that asks dnsmasq', async (t) => {
  needPeers(...INTEROP_MODULES['zmq_peer.py']!)
  const dns = await startDnsmasq(t)
  const router = startProcess(t, [PYTHON, `${ROOT}test/interop/zmq_peer.py`, pythonStubs(), 'router', String(dns), '25'])
  const endpoint = JSON.parse(await router.waitFor(/\{"endpoint": "[^"]+"\}/)).endpoint as string
  const near = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `zmq/client:${endpoint.slice('tcp://'.length)}` })
  const port = near.inAddresses()[0]!.port
  assert.equal(await dig(port, 'host.example'), RECORDS['host.example'])
  assert.equal(await dig(port, 'many.example'), RECORDS['many.example'])
  await router.waitFor(/"served": 2/)
}, { timeout: 40_000 })
