import assert from 'node:assert/strict'
import net from 'node:net'
import type { HalfOptions } from '../../mod.ts'
import { test, waitFor, waitForLine } from '../harness.ts'
import { testCerts } from '../helpers/certs.ts'
import { half, tunnelOver } from '../helpers/halves.ts'
import { run } from '../helpers/processes.ts'
import { acceptQueue, rawConnect } from '../helpers/raw-tcp.ts'
import { clientSide, serverSide, transport } from '../helpers/transports.ts'
import { echoDevice, roundTrip, text, udpPeer } from '../helpers/udp.ts'

// What only TLS has, through the library on every runtime (node:tls everywhere,
// docs/runtimes.md#tls): certificates both ways, handshake failures and limits, checked also
// with openssl.
// Certificates are made by openssl at test time (test/helpers/certs.ts). What every transport
// does is in transports.test.ts.

const certs = () => testCerts().pem
const serverTls = (extra: Partial<NonNullable<HalfOptions['tls']>> = {}) => ({ cert: certs().serverCert, key: certs().serverKey, ...extra })
const clientTls = (extra: Partial<NonNullable<HalfOptions['tls']>> = {}) => ({ caCert: certs().ca, ...extra })

test('mutual TLS: a client certificate from the CA is accepted; a rogue CA or no certificate is refused with a logged reason', async (t) => {
  const pem = certs()
  const device = await echoDevice(t)
  const { far, serverPort: farPort, nearPort } = await tunnelOver(t, transport('tls'), device.port, {
    far: { tls: serverTls({ caCert: pem.ca, clientAuth: true }) },
    near: { tls: clientTls({ cert: pem.clientCert, key: pem.clientKey }) },
  })
  assert.equal(await roundTrip(t, nearPort, 'mtls'), 'reply0:mtls')

  const rogue = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tls/client:127.0.0.1:${farPort}`, tls: clientTls({ cert: pem.rogueCert, key: pem.rogueKey }), maxRetryDelay: '5s' })
  const bare = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tls/client:127.0.0.1:${farPort}`, tls: clientTls(), maxRetryDelay: '5s' })
  const c1 = await udpPeer(t)
  c1.send('from-rogue', rogue.inAddresses()[0]!.port)
  c1.send('from-bare', bare.inAddresses()[0]!.port)
  await waitForLine(far.lines, /refused TLS client/, { count: 2 })
  const refusals = far.lines.filter((l) => /refused TLS client/.test(l)).join('\n')
  assert.match(refusals, /client certificate rejected|no client certificate/)
  assert.match(refusals, /no client certificate/, refusals)
  assert.match(refusals, /client certificate rejected/, refusals)
  // The refused clients say why on their side too, and never got a session.
  await waitFor(() => rogue.lines.some((l) => /WARN|ERROR/.test(l)) && bare.lines.some((l) => /WARN|ERROR/.test(l)), 'both clients to log the failure')
  assert.equal(rogue.stats.get('tunnel.connected'), 0)
  assert.equal(bare.stats.get('tunnel.connected'), 0)
  // The positive control: a request through the accepted client, sent after the refused ones,
  // is answered; by then nothing from the refused clients has reached the device.
  assert.equal(await roundTrip(t, nearPort, 'after'), 'reply0:after')
  assert.deepEqual(device.received.map((r) => text(r.data)), ['mtls', 'after'], 'nothing from a refused client reaches the device')
  assert.equal(c1.received.length, 0)
})

test('the client verifies the server: an unknown CA or a wrong name is refused; sni= sets the name', async (t) => {
  const device = await echoDevice(t)
  const far = await half(t, { in: 'tls/server:127.0.0.1:0', out: `udp/broadcast:127.0.0.1:${device.port}`, tls: serverTls() })
  const port = far.inAddresses()[0]!.port
  // No --ca-cert: the system trust store does not know our test CA.
  const noCa = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tls/client:127.0.0.1:${port}`, maxRetryDelay: '5s' })
  const wrongName = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tls/client:127.0.0.1:${port},sni=relay.example.com`, tls: clientTls(), maxRetryDelay: '5s' })
  await waitFor(() => noCa.lines.some((l) => /server certificate of 127\.0\.0\.1:\d+ rejected/.test(l)), 'the unknown CA to be refused')
  await waitForLine(wrongName.lines, /server certificate of 127\.0\.0\.1:\d+ rejected.*relay\.example\.com/)
  assert.equal(noCa.stats.get('tunnel.connected') + wrongName.stats.get('tunnel.connected'), 0)
  const named = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tls/client:127.0.0.1:${port},sni=localhost`, tls: clientTls() })
  assert.equal(await roundTrip(t, named.inAddresses()[0]!.port, 'sni'), 'reply0:sni')
})

test('TLS settings are checked before anything starts', async (t) => {
  const { startHalf } = await import('../../mod.ts')
  const attempt = (o: Partial<HalfOptions>) => startHalf({ in: 'udp/listen:127.0.0.1:0', out: 'tls/client:127.0.0.1:9', logLevel: 'silent', ...o } as HalfOptions)
  await assert.rejects(startHalf({ in: 'tls/server:127.0.0.1:0', out: 'udp/broadcast:127.0.0.1:9', logLevel: 'silent' }), /needs --cert and --key/)
  await assert.rejects(startHalf({ in: 'tls/server:127.0.0.1:0', out: 'udp/broadcast:127.0.0.1:9', logLevel: 'silent', tls: serverTls({ clientAuth: true }) }), /--client-auth needs --ca-cert/)
  await assert.rejects(attempt({ tls: { cert: certs().clientCert } }), /needs both --cert and --key/)
  await assert.rejects(attempt({ tls: { caCert: 'not a pem' } }), /--ca-cert does not hold a PEM certificate/)
  await assert.rejects(attempt({ out: 'tls/client:127.0.0.1:9,foo=1' }), /unknown option 'foo'/)
  void t
})

test('a tls/client pointed at a plain tcp/server or a silent server gives up in time, says why, and retries', async (t) => {
  const device = await echoDevice(t)
  const plain = await half(t, { in: 'tcp/server:127.0.0.1:0', out: `udp/broadcast:127.0.0.1:${device.port}`, helloTimeout: '5s' })
  const silent = net.createServer(() => {}).listen(0, '127.0.0.1')
  await new Promise((r) => silent.once('listening', r))
  const held: net.Socket[] = []
  silent.on('connection', (s) => held.push(s))
  t.defer(() => {
    for (const s of held) s.destroy()
    silent.close()
  })
  const silentPort = (silent.address() as net.AddressInfo).port
  const started = Date.now()
  const a = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tls/client:127.0.0.1:${plain.inAddresses()[0]!.port}`, tls: clientTls(), helloTimeout: '600ms', maxRetryDelay: '200ms' })
  const b = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tls/client:127.0.0.1:${silentPort}`, tls: clientTls(), helloTimeout: '600ms', maxRetryDelay: '200ms' })
  // The plain server answers the ClientHello with an edgerelay refusal: not TLS, said at once.
  await waitFor(() => a.lines.some((l) => /127\.0\.0\.1:\d+ does not speak TLS: .*wrong version number/.test(l)), 'the not-TLS message', 3000)
    .catch((e) => { throw new Error(`${e.message}\n${a.lines.join('\n')}`) })
  // The silent one is given up after the handshake limit.
  await waitFor(() => b.lines.some((l) => /TLS handshake with 127\.0\.0\.1:\d+ not finished within 600 ms: the server accepted the connection but did not answer/.test(l)), 'the handshake timeout message', 3000)
    .catch((e) => { throw new Error(`${e.message}\n${b.lines.join('\n')}`) })
  for (const h of [a, b]) await waitFor(() => h.lines.some((l) => /retrying in \d+ ms/.test(l)), 'a retry')
  assert.ok(Date.now() - started < 3000)
  // And it keeps retrying: a second attempt times out too.
  await waitFor(() => b.lines.filter((l) => /not finished within 600 ms/.test(l)).length >= 2, 'a second attempt', 3000)
})

const SILENT_PEERS = [
  { tr: transport('tls'), step: 'the TLS handshake', dropped: /refused TLS client .* did not finish the TLS handshake within 1500 ms/ },
  { tr: transport('tcp'), step: 'the hello', dropped: /did not complete the hello within 1500 ms/ },
]

for (const { tr, step, dropped } of SILENT_PEERS) {
  test(`${tr.name}: the server drops peers that never finish ${step}, concurrently: silent sockets do not delay a real client`, async (t) => {
    const device = await echoDevice(t)
    // A named codec: under the tcp/tls servers' default (auto), a silent peer without --token is
    // taken for a uhppoted-tunnel client and kept (test/conformance/codec-auto.test.ts).
    const server = serverSide(tr, '127.0.0.1', 0)
    const far = await half(t, { in: server.connector, tls: server.tls, out: `udp/broadcast:127.0.0.1:${device.port}`, codec: 'protobuf', helloTimeout: '1500ms' })
    const farPort = far.inAddresses()[0]!.port
    const silent = await Promise.all([0, 1, 2].map(() => rawConnect(t, farPort)))
    // Their clocks start when the server accepts them, not before they connected.
    const connected = Date.now()
    // The server has taken all three off the kernel's accept queue: their clocks are running.
    await waitFor(async () => (await acceptQueue(farPort)) === 0, 'the server to accept the silent connections')
    const started = Date.now()
    const client = clientSide(tr, '127.0.0.1', farPort)
    const near = await half(t, { in: 'udp/listen:127.0.0.1:0', out: client.connector, tls: client.tls })
    assert.equal(await roundTrip(t, near.inAddresses()[0]!.port, 'real'), 'reply0:real')
    const elapsed = Date.now() - started
    assert.ok(elapsed < 700, `the real client's first reply took ${elapsed} ms with 3 silent connections open`)
    assert.ok(silent.every((s) => !s.isClosed()), 'the silent ones are still waiting')
    await Promise.all(silent.map((s) => s.closed))
    const waited = Date.now() - connected
    assert.ok(waited >= 1300 && waited < 3500, `silent peers dropped ${waited} ms after they connected`)
    await waitForLine(far.lines, dropped, { count: 3 })
  }, { timeout: 15_000 })
}

test('openssl s_client completes a handshake with the right client certificate, and fails without one', async (t) => {
  const f = testCerts().files
  const device = await echoDevice(t)
  const far = await half(t, { in: 'tls/server:127.0.0.1:0', out: `udp/broadcast:127.0.0.1:${device.port}`, tls: serverTls({ caCert: certs().ca, clientAuth: true }) })
  const port = far.inAddresses()[0]!.port
  const base = ['openssl', 's_client', '-connect', `127.0.0.1:${port}`, '-CAfile', f.ca, '-verify_return_error', '-verify_hostname', 'localhost', '-servername', 'localhost']
  const ok = await run([...base, '-cert', f.clientCert, '-key', f.clientKey, '-brief'], 10_000)
  assert.match(ok.stdout + ok.stderr, /CONNECTION ESTABLISHED/, ok.stdout + ok.stderr)
  assert.match(ok.stdout + ok.stderr, /Verification: OK/)
  assert.match(ok.stdout + ok.stderr, /Protocol version: TLSv1\.[23]/)
  const noCert = await run([...base, '-brief'], 10_000)
  // TLS 1.3 finishes the client side before the server checks the certificate: the refusal
  // arrives as an alert right after, and the server logs why.
  await waitFor(() => far.lines.some((l) => /refused TLS client .*no client certificate/.test(l)), 'the server to log the refusal')
  assert.doesNotMatch(noCert.stdout + noCert.stderr, /Verification: OK[\s\S]*Protocol version[\s\S]*read:errno=0\s*$/)
  assert.equal(far.stats.get('tunnel.accepted'), 1, 'only the client with a certificate got a session')
  // TLS 1.1 offered (openssl needs security level 0 to even offer it) is refused by the server.
  const old = await run([...base, '-cert', f.clientCert, '-key', f.clientKey, '-brief', '-tls1_1', '-cipher', 'DEFAULT:@SECLEVEL=0'], 10_000)
  assert.doesNotMatch(old.stdout + old.stderr, /CONNECTION ESTABLISHED/, 'TLS 1.1 is refused')
  await waitFor(() => far.lines.some((l) => /refused TLS client .*(version|protocol|incompatible)/i.test(l)), 'the server to log the TLS 1.1 refusal')
    .catch((e) => { throw new Error(`${e.message}\n${far.lines.join('\n')}\n${old.stdout}${old.stderr}`) })
}, { timeout: 30_000 })
