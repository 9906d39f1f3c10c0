import assert from 'node:assert/strict'
import { test } from '../harness.ts'
import { testCerts } from '../helpers/certs.ts'
import { RECORDS, startDnsmasq } from '../helpers/dns.ts'
import { half } from '../helpers/halves.ts'
import { runInterop } from '../helpers/python.ts'
import { echoServer } from '../helpers/tcp-streams.ts'

// Programs nobody here wrote, following only the published schema (codecs/schema) and
// docs/wire-protocol.md, get DNS answers from dnsmasq through a far half: Debian's
// python3-websockets through ws/server, and stock python3-grpcio clients generated from
// edgerelay.proto through grpc/server, in plain text and over TLS; and one such client opens a TCP
// stream (open, data, window, close) through grpc/server to an echo server behind tcp/dial.

test('python3-websockets, following only the schema and docs/wire-protocol.md, gets a DNS answer through ws/server', async (t) => {
  const dns = await startDnsmasq(t)
  const far = await half(t, { in: 'ws/server:127.0.0.1:0/tunnel', out: `udp/broadcast:127.0.0.1:${dns}`, token: 'py-token' })
  const url = `ws://127.0.0.1:${far.inAddresses()[0]!.port}/tunnel`
  const ok = await runInterop('ws_client.py', [url, 'py-token', 'many.example'])
  assert.deepEqual(ok, { status: 'ok', flow: 42, id: 7, kind: 'REPLY', answers: [RECORDS['many.example']] })
  const refused = await runInterop('ws_client.py', [url, 'not-the-token', 'many.example'])
  assert.deepEqual(refused, { status: 'refused', http: 401 })
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
test('a stock python3-grpcio client over TLS, trusting only the test CA, gets its DNS answer', async (t) => {
  const { pem, files } = testCerts()
  const dns = await startDnsmasq(t)
  const far = await half(t, { in: 'grpc/server:127.0.0.1:0', out: `udp/broadcast:127.0.0.1:${dns}`, udpTimeout: '500ms', tls: { cert: pem.serverCert, key: pem.serverKey } })
  const ok = await runInterop('grpc_client.py', [`localhost:${far.inAddresses()[0]!.port}`, '-', 'many.example', files.ca])
  assert.deepEqual(ok, { status: 'ok', code: 'OK', replies: [{ flow: 42, id: 7, kind: 'REPLY', answers: [RECORDS['many.example']] }] })
}, { timeout: 30_000 })

test('a stock python3-grpcio client opens a TCP stream through grpc/server from the schema alone: accepted, echoed, FIN both ways; a denied destination is refused with code 3', async (t) => {
  const echo = await echoServer(t)
  const far = await half(t, { in: 'grpc/server:127.0.0.1:0', out: 'tcp/dial', allow: `127.0.0.1:${echo.port}` })
  const target = `127.0.0.1:${far.inAddresses()[0]!.port}`
  const ok = await runInterop('grpc_stream.py', [target, 'hello through a stream', `127.0.0.1:${echo.port}`])
  assert.deepEqual(ok, { status: 'ok', accepted: true, echoed: 'hello through a stream', fin: true })
  const refused = await runInterop('grpc_stream.py', [target, 'x', '127.0.0.1:9'])
  assert.equal(refused.status, 'refused')
  assert.equal(refused.code, 3)
  assert.match(String(refused.error), /not allowed/)
}, { timeout: 30_000 })
