import assert from 'node:assert/strict'
import https from 'node:https'
import { test } from '../harness.ts'
import { testCerts } from '../helpers/certs.ts'
import { RECORDS, dig, startDnsmasq } from '../helpers/dns.ts'
import { half } from '../helpers/halves.ts'
import { freePort } from '../helpers/free-ports.mjs'
import { CLI, cleanExit, startProcess } from '../helpers/processes.ts'
import { runInterop } from '../helpers/python.ts'
import { echoDevice, text, udpPeer } from '../helpers/udp.ts'

// wss://, gRPC over TLS and https/ with certificates made by openssl at test time: the server
// takes --cert/--key, clients verify it against --ca-cert (never the system store here).

test('dig through the real CLI halves over wss://', async (t) => {
  const { files } = testCerts()
  const cli = CLI[t.runtime]
  const dns = await startDnsmasq(t)
  const [tunnelPort, nearPort] = [await freePort(), await freePort()]
  const far = startProcess(t, [...cli, '--in', `ws/server:127.0.0.1:${tunnelPort}/tunnel`, '--out', `udp/broadcast:127.0.0.1:${dns}`, '--cert', files.serverCert, '--key', files.serverKey])
  await far.waitFor(/listening on/)
  const near = startProcess(t, [...cli, '--in', `udp/listen:127.0.0.1:${nearPort}`, '--out', `ws/client:wss://127.0.0.1:${tunnelPort}/tunnel`, '--ca-cert', files.ca])
  await near.waitFor(/connected to/)
  assert.equal(await dig(nearPort, 'host.example'), RECORDS['host.example'])
  assert.ok(cleanExit(await near.stop(), near.output(), t.runtime), near.output())
  assert.ok(cleanExit(await far.stop(), far.output(), t.runtime), far.output())
}, { timeout: 30_000 })

test('dig through the real CLI halves over gRPC with TLS (ALPN h2)', async (t) => {
  const { files } = testCerts()
  const cli = CLI[t.runtime]
  const dns = await startDnsmasq(t)
  const [tunnelPort, nearPort] = [await freePort(), await freePort()]
  const far = startProcess(t, [...cli, '--in', `grpc/server:127.0.0.1:${tunnelPort}`, '--out', `udp/broadcast:127.0.0.1:${dns}`, '--cert', files.serverCert, '--key', files.serverKey, '--token', 'tls-grpc'])
  await far.waitFor(/listening on/)
  const near = startProcess(t, [...cli, '--in', `udp/listen:127.0.0.1:${nearPort}`, '--out', `grpc/client:127.0.0.1:${tunnelPort},tls`, '--ca-cert', files.ca, '--token', 'tls-grpc'])
  await near.waitFor(/connected to/)
  assert.equal(await dig(nearPort, 'other.example'), RECORDS['other.example'])
  assert.ok(cleanExit(await near.stop(), near.output(), t.runtime), near.output())
  assert.ok(cleanExit(await far.stop(), far.output(), t.runtime), far.output())
}, { timeout: 30_000 })

test('a stock python3-grpcio client over TLS, trusting only the test CA, gets its DNS answer', async (t) => {
  const { pem, files } = testCerts()
  const dns = await startDnsmasq(t)
  const far = await half(t, { in: 'grpc/server:127.0.0.1:0', out: `udp/broadcast:127.0.0.1:${dns}`, udpTimeout: '500ms', tls: { cert: pem.serverCert, key: pem.serverKey } })
  const ok = await runInterop('grpc_client.py', [`localhost:${far.inAddresses()[0]!.port}`, '-', 'many.example', files.ca])
  assert.deepEqual(ok, { status: 'ok', code: 'OK', replies: [{ flow: 42, id: 7, kind: 'REPLY', answers: [RECORDS['many.example']] }] })
}, { timeout: 30_000 })

test('wss with client certificates: a client with one signed by --ca-cert gets through, a client without one does not', async (t) => {
  const { pem } = testCerts()
  const device = await echoDevice(t)
  const far = await half(t, { in: 'ws/server:127.0.0.1:0/m', out: `udp/broadcast:127.0.0.1:${device.port}`, tls: { cert: pem.serverCert, key: pem.serverKey, caCert: pem.ca, clientAuth: true } })
  const url = `ws/client:wss://127.0.0.1:${far.inAddresses()[0]!.port}/m`
  const near = await half(t, { in: 'udp/listen:127.0.0.1:0', out: url, tls: { caCert: pem.ca, cert: pem.clientCert, key: pem.clientKey } })
  const client = await udpPeer(t)
  client.send('mtls', near.inAddresses()[0]!.port)
  await client.waitCount(1)
  assert.equal(text(client.received[0]!.data), 'reply0:mtls')
  const anonymous = await half(t, { in: 'udp/listen:127.0.0.1:0', out: url, tls: { caCert: pem.ca }, maxRetries: 0 })
  await assert.rejects(anonymous.done, /E?CONNECT|closed the connection|certificate|handshake/i)
}, { timeout: 30_000 })

test('a wss client refuses a server whose certificate its CA did not sign', async (t) => {
  const { pem } = testCerts()
  const device = await echoDevice(t)
  const far = await half(t, { in: 'ws/server:127.0.0.1:0/x', out: `udp/broadcast:127.0.0.1:${device.port}`, tls: { cert: pem.serverCert, key: pem.serverKey } })
  const near = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `ws/client:wss://127.0.0.1:${far.inAddresses()[0]!.port}/x`, tls: { caCert: pem.rogueCa }, maxRetries: 0 })
  await assert.rejects(near.done, /certificate/i)
})

test('https/<addr> answers the JSON API over TLS', async (t) => {
  const { pem } = testCerts()
  const device = await echoDevice(t)
  const h = await half(t, { in: 'https/127.0.0.1:0', out: `udp/broadcast:127.0.0.1:${device.port}`, tls: { cert: pem.serverCert, key: pem.serverKey } })
  const body = JSON.stringify({ ID: 2, wait: '0s', request: [104, 105] })
  const answer = await new Promise<string>((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: h.inAddresses()[0]!.port, path: '/udp/send', method: 'POST', ca: pem.ca, headers: { 'content-type': 'application/json' } }, (res) => {
      let data = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (data += d))
      res.on('end', () => resolve(data))
    })
    req.on('error', reject)
    req.end(body)
  })
  assert.deepEqual(JSON.parse(answer), { ID: 2, replies: [[...new TextEncoder().encode('reply0:hi')]] })
})
