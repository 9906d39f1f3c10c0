import assert from 'node:assert/strict'
import net from 'node:net'
import type { HalfOptions } from '../../mod.ts'
import { sleep, test, waitFor } from '../harness.ts'
import { testCerts } from '../helpers/certs.ts'
import { half } from '../helpers/halves.ts'
import { run } from '../helpers/processes.ts'
import { rawConnect } from '../helpers/raw-tcp.ts'
import { echoDevice, text, udpPeer } from '../helpers/udp.ts'

// tls/server and tls/client through the library, on every runtime: node:tls everywhere
// (docs/runtimes.md#tls), certificates made by openssl at test time (test/helpers/certs.ts).

const certs = () => testCerts().pem
const serverTls = (extra: Partial<NonNullable<HalfOptions['tls']>> = {}) => ({ cert: certs().serverCert, key: certs().serverKey, ...extra })
const clientTls = (extra: Partial<NonNullable<HalfOptions['tls']>> = {}) => ({ caCert: certs().ca, ...extra })

async function tlsTunnel(t: Parameters<typeof half>[0], opts: { server?: Partial<HalfOptions>; client?: Partial<HalfOptions>; host?: string; clientSuffix?: string } = {}) {
  const device = await echoDevice(t)
  const host = opts.host ?? '127.0.0.1'
  const far = await half(t, { in: `tls/server:${host}:0`, out: `udp/broadcast:127.0.0.1:${device.port}`, tls: serverTls(), ...opts.server })
  const farPort = far.inAddresses()[0]!.port
  const near = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tls/client:${host}:${farPort}${opts.clientSuffix ?? ''}`, tls: clientTls(), maxRetryDelay: '300ms', ...opts.client })
  return { device, far, near, farPort, nearPort: near.inAddresses()[0]!.port }
}

async function roundTrip(t: Parameters<typeof half>[0], nearPort: number, payload = 'ping'): Promise<string> {
  const client = await udpPeer(t)
  client.send(payload, nearPort)
  await client.waitCount(1, 5000)
  return text(client.received[0]!.data)
}

test('tls tunnel: requests and replies cross, the server certificate checked against the IP literal', async (t) => {
  const { near, nearPort } = await tlsTunnel(t)
  assert.equal(await roundTrip(t, nearPort), 'reply0:ping')
  assert.ok(near.lines.some((l) => /tls\/client connected to 127\.0\.0\.1:\d+/.test(l)), near.lines.join('\n'))
})

test('tls tunnel over [::1] (certificate SAN IP ::1)', async (t) => {
  const { nearPort } = await tlsTunnel(t, { host: '[::1]' })
  assert.equal(await roundTrip(t, nearPort), 'reply0:ping')
})

test('tls reverse tunnel: the far half dials out with tls/client as --in', async (t) => {
  const device = await echoDevice(t)
  const near = await half(t, { in: 'udp/listen:127.0.0.1:0', out: 'tls/server:127.0.0.1:0', tls: serverTls() })
  const tunnelPort = near.outAddresses()[0]!.port
  await half(t, { in: `tls/client:127.0.0.1:${tunnelPort}`, out: `udp/broadcast:127.0.0.1:${device.port}`, tls: clientTls() })
  await waitFor(() => near.lines.some((l) => /peer .* connected/.test(l)), 'the far half to connect')
  assert.equal(await roundTrip(t, near.inAddresses()[0]!.port, 'rev'), 'reply0:rev')
})

test('mutual TLS: a client certificate from the CA is accepted; a rogue CA or no certificate is refused with a logged reason', async (t) => {
  const pem = certs()
  const { far, farPort, nearPort, device } = await tlsTunnel(t, {
    server: { tls: serverTls({ caCert: pem.ca, clientAuth: true }) },
    client: { tls: clientTls({ cert: pem.clientCert, key: pem.clientKey }) },
  })
  assert.equal(await roundTrip(t, nearPort, 'mtls'), 'reply0:mtls')
  const before = device.received.length

  const rogue = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tls/client:127.0.0.1:${farPort}`, tls: clientTls({ cert: pem.rogueCert, key: pem.rogueKey }), maxRetryDelay: '5s' })
  const bare = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tls/client:127.0.0.1:${farPort}`, tls: clientTls(), maxRetryDelay: '5s' })
  const c1 = await udpPeer(t)
  c1.send('from-rogue', rogue.inAddresses()[0]!.port)
  c1.send('from-bare', bare.inAddresses()[0]!.port)
  await waitFor(() => far.lines.filter((l) => /refused TLS client/.test(l)).length >= 2, 'two refusals in the server log', 5000)
    .catch((e) => { throw new Error(`${e.message}\n${far.lines.join('\n')}`) })
  const refusals = far.lines.filter((l) => /refused TLS client/.test(l)).join('\n')
  assert.match(refusals, /client certificate rejected|no client certificate/)
  assert.match(refusals, /no client certificate/, refusals)
  assert.match(refusals, /client certificate rejected/, refusals)
  // The refused clients say why on their side too, and never got a session.
  await waitFor(() => rogue.lines.some((l) => /WARN|ERROR/.test(l)) && bare.lines.some((l) => /WARN|ERROR/.test(l)), 'both clients to log the failure')
  assert.equal(rogue.stats.get('tunnel.connected'), 0)
  assert.equal(bare.stats.get('tunnel.connected'), 0)
  await sleep(200)
  assert.equal(device.received.length, before, 'nothing from a refused client reaches the device')
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
  await waitFor(() => wrongName.lines.some((l) => /server certificate of 127\.0\.0\.1:\d+ rejected.*relay\.example\.com/.test(l)), 'the wrong name to be refused')
    .catch((e) => { throw new Error(`${e.message}\n${wrongName.lines.join('\n')}`) })
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

test('servers drop peers that never finish the TLS handshake or the hello, concurrently: silent sockets do not delay a real client', async (t) => {
  for (const kind of ['tls', 'tcp'] as const) {
    const device = await echoDevice(t)
    const tls = kind === 'tls' ? serverTls() : undefined
    // A named codec: under the tcp/tls servers' default (auto), a silent peer without --token is
    // taken for a uhppoted-tunnel client and kept (test/conformance/codec-auto.test.ts).
    const far = await half(t, { in: `${kind}/server:127.0.0.1:0`, out: `udp/broadcast:127.0.0.1:${device.port}`, tls, codec: 'protobuf', helloTimeout: '1500ms' })
    const farPort = far.inAddresses()[0]!.port
    const silent = await Promise.all([0, 1, 2].map(() => rawConnect(t, farPort)))
    await sleep(50)
    const started = Date.now()
    const near = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `${kind}/client:127.0.0.1:${farPort}`, tls: kind === 'tls' ? clientTls() : undefined })
    const client = await udpPeer(t)
    client.send('real', near.inAddresses()[0]!.port)
    await client.waitCount(1, 5000)
    const elapsed = Date.now() - started
    assert.ok(elapsed < 700, `${kind}: the real client's first reply took ${elapsed} ms with 3 silent connections open`)
    assert.ok(silent.every((s) => !s.isClosed()), 'the silent ones are still waiting')
    await Promise.all(silent.map((s) => s.closed))
    const waited = Date.now() - started
    assert.ok(waited >= 1300 && waited < 3500, `${kind}: silent peers dropped after ${waited} ms`)
    if (kind === 'tls') await waitFor(() => far.lines.filter((l) => /refused TLS client .* did not finish the TLS handshake within 1500 ms/.test(l)).length === 3, 'three logged handshake timeouts')
    else await waitFor(() => far.lines.filter((l) => /did not complete the hello within 1500 ms/.test(l)).length === 3, 'three logged hello timeouts')
  }
}, { timeout: 15_000 })

test('--token on tls: a wrong or missing token is refused with a reason and nothing reaches the device', async (t) => {
  const { far, farPort, device, nearPort } = await tlsTunnel(t, { server: { token: 's3cret' }, client: { token: 's3cret' } })
  assert.equal(await roundTrip(t, nearPort, 'ok'), 'reply0:ok')
  const before = device.received.length
  const wrong = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tls/client:127.0.0.1:${farPort}`, tls: clientTls(), token: 'guess', maxRetryDelay: '5s' })
  const missing = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tls/client:127.0.0.1:${farPort}`, tls: clientTls(), maxRetryDelay: '5s' })
  const client = await udpPeer(t)
  client.send('w', wrong.inAddresses()[0]!.port)
  client.send('m', missing.inAddresses()[0]!.port)
  await waitFor(() => far.lines.some((l) => /refused peer .*: wrong token/.test(l)) && far.lines.some((l) => /refused peer .*: a token is required/.test(l)), 'both refusals logged by the server')
  await waitFor(() => wrong.lines.some((l) => /ERROR .*server refused the tunnel: wrong token/.test(l)), 'the wrong-token client to log the refusal')
  await waitFor(() => missing.lines.some((l) => /ERROR .*server refused the tunnel: a token is required/.test(l)), 'the tokenless client to log the refusal')
  await sleep(200)
  assert.equal(device.received.length, before)
  assert.equal(far.stats.get('udp.sent.request'), 1)
})

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
