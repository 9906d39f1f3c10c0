import assert from 'node:assert/strict'
import { test } from '../harness.ts'
import { RECORDS, startDnsmasq } from '../helpers/dns.ts'
import { digThroughCliHalves } from '../helpers/cli-dig.ts'
import { half } from '../helpers/halves.ts'
import { runInterop } from '../helpers/python.ts'

// End to end over gRPC: dig → near half (this runtime's CLI) → grpc tunnel (h2c) → far half →
// dnsmasq; and a stock Python gRPC client generated from the published .proto.

test('dig through the real CLI halves over a grpc tunnel, with a token', async (t) => {
  await digThroughCliHalves(t, (p) => `grpc/server:127.0.0.1:${p}`, (p) => `grpc/client:127.0.0.1:${p}`, ['--token', 'e2e-grpc'])
}, { timeout: 30_000 })

test('a stock python3-grpcio client generated from edgerelay.proto gets its DNS answer through grpc/server', async (t) => {
  const dns = await startDnsmasq(t)
  const far = await half(t, { in: 'grpc/server:127.0.0.1:0', out: `udp/broadcast:127.0.0.1:${dns}`, token: 'py-grpc', udpTimeout: '500ms' })
  const target = `127.0.0.1:${far.inAddresses()[0]!.port}`
  const ok = await runInterop('grpc_client.py', [target, 'py-grpc', 'host.example'])
  assert.deepEqual(ok, { status: 'ok', code: 'OK', replies: [{ flow: 42, id: 7, kind: 'REPLY', answers: [RECORDS['host.example']] }] })
  const refused = await runInterop('grpc_client.py', [target, 'wrong', 'host.example'])
  assert.deepEqual(refused, { status: 'error', code: 'UNAUTHENTICATED', details: 'wrong token' })
}, { timeout: 30_000 })
