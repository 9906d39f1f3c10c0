import assert from 'node:assert/strict'
import https from 'node:https'
import { test } from '../harness.ts'
import { testCerts } from '../helpers/certs.ts'
import { half } from '../helpers/halves.ts'
import { echoDevice, text, udpPeer } from '../helpers/udp.ts'

// What TLS adds to wss:// and https/, with certificates made by openssl at test time: client
// certificates, a server certificate from another CA, the JSON API over TLS. (dig over wss and
// gRPC with TLS are rows of test/e2e/dig.test.ts; python3-grpcio over TLS is in
// python-interop.test.ts.)

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
