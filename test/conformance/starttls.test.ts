import assert from 'node:assert/strict'
import net from 'node:net'
import { runtime } from '#runtime'
import type { HalfOptions } from '../../mod.ts'
import { test, waitFor, waitForLine } from '../harness.ts'
import { concat } from '../helpers/bytes.mjs'
import { testCerts } from '../helpers/certs.ts'
import { half } from '../helpers/halves.ts'
import { echoDevice, roundTrip, text, udpPeer } from '../helpers/udp.ts'

// tcp/client and tcp/server with ,starttls (docs/wire-protocol.md#starttls): the halves meet in
// plain TCP, agree in the hello, and run TLS on the same connection with the usual certificate
// checks. A proxy between them records what crosses in plain sight, or removes the client's offer
// from its hello (a man in the middle stripping STARTTLS): then the client must stop, not talk
// plain text.

const certs = () => testCerts().pem
const serverTls = (extra: Partial<NonNullable<HalfOptions['tls']>> = {}) => ({ cert: certs().serverCert, key: certs().serverKey, ...extra })
const clientTls = (extra: Partial<NonNullable<HalfOptions['tls']>> = {}) => ({ caCert: certs().ca, ...extra })
type T = Parameters<typeof half>[0]

/**
 * A TCP proxy to 127.0.0.1:`target` that records the bytes each way; with `strip`, it clears the
 * flags of the client's hello (bytes 6-7 of "ERLY" 1 1 ...), which removes the STARTTLS offer.
 */
async function proxy(t: T, target: number, strip: boolean) {
  const up: Uint8Array[] = []
  const down: Uint8Array[] = []
  let stripped = 0
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    const upstream = net.connect({ port: target, host: '127.0.0.1' })
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('error', () => {})
      s.on('close', () => {
        client.destroy()
        upstream.destroy()
      })
    }
    let first = true
    client.on('data', (d: Buffer) => {
      const bytes = new Uint8Array(d)
      if (first && strip && bytes.length >= 8 && text(bytes.subarray(0, 4)) === 'ERLY' && bytes[5] === 1) {
        bytes[6] = 0
        bytes[7] = 0
        stripped++
      }
      first = false
      up.push(bytes.slice())
      upstream.write(bytes)
    })
    upstream.on('data', (d: Buffer) => {
      down.push(new Uint8Array(d))
      client.write(d)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.defer(() => {
    for (const s of sockets) s.destroy()
    server.close()
  })
  return { port: (server.address() as net.AddressInfo).port, up: () => concat(up), down: () => concat(down), stripped: () => stripped }
}

const contains = (haystack: Uint8Array, needle: string) => Buffer.from(haystack).includes(Buffer.from(needle))

test('tcp ,starttls: requests cross a tunnel upgraded to TLS on the same connection; the token and the payloads never cross in plain text', async (t) => {
  const device = await echoDevice(t)
  const token = 'starttls-secret-token'
  const far = await half(t, { in: 'tcp/server:127.0.0.1:0,starttls', out: `udp/broadcast:127.0.0.1:${device.port}`, tls: serverTls(), token })
  const watch = await proxy(t, far.inAddresses()[0]!.port, false)
  const near = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tcp/client:localhost:${watch.port},starttls`, tls: clientTls(), token })
  assert.equal(await roundTrip(t, near.inAddresses()[0]!.port, 'private-payload'), 'reply0:private-payload')
  assert.equal(far.stats.get('tunnel.starttls'), 1)
  assert.equal(near.stats.get('tunnel.starttls'), 1)
  assert.ok(far.lines.some((l) => /listening on 127\.0\.0\.1:\d+ \(codec auto: an edgerelay hello of any codec \(no uhppoted-tunnel framing\), STARTTLS required\)/.test(l)), far.lines.join('\n'))
  const up = watch.up()
  const down = watch.down()
  // In plain sight: the client's hello (no token) and the server's accept, then TLS records only.
  assert.equal(text(up.subarray(0, 4)), 'ERLY')
  assert.equal((up[6]! << 8) | up[7]!, 1, 'the hello offers STARTTLS')
  const helloLength = 11 + up[8]!
  assert.equal((up[9 + up[8]!]! << 8) | up[10 + up[8]!]!, 0, 'no token in the plain hello')
  assert.equal(up[helloLength], 0x16, 'a TLS handshake record follows the plain hello')
  assert.equal(down[10], 0x16, 'a TLS handshake record follows the 10-byte accept')
  for (const secret of [token, 'private-payload', 'reply0']) {
    assert.ok(!contains(up, secret) && !contains(down, secret), `'${secret}' crossed in plain text`)
  }
})

test('tcp ,starttls with --client-auth: a client certificate from the CA is accepted; a foreign one and none are refused during the upgrade', async (t) => {
  const pem = certs()
  const device = await echoDevice(t)
  const far = await half(t, { in: 'tcp/server:127.0.0.1:0,starttls', out: `udp/broadcast:127.0.0.1:${device.port}`, tls: serverTls({ caCert: pem.ca, clientAuth: true }) })
  const port = far.inAddresses()[0]!.port
  const near = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tcp/client:127.0.0.1:${port},starttls`, tls: clientTls({ cert: pem.clientCert, key: pem.clientKey }) })
  assert.equal(await roundTrip(t, near.inAddresses()[0]!.port, 'mtls'), 'reply0:mtls')
  const rogue = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tcp/client:127.0.0.1:${port},starttls`, tls: clientTls({ cert: pem.rogueCert, key: pem.rogueKey }), maxRetryDelay: '5s' })
  const bare = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tcp/client:127.0.0.1:${port},starttls`, tls: clientTls(), maxRetryDelay: '5s' })
  const c = await udpPeer(t)
  c.send('from-rogue', rogue.inAddresses()[0]!.port)
  c.send('from-bare', bare.inAddresses()[0]!.port)
  await waitForLine(far.lines, /refused TLS client/, { count: 2 })
  const refusals = far.lines.filter((l) => /refused TLS client/.test(l)).join('\n')
  assert.match(refusals, /no client certificate/, refusals)
  assert.match(refusals, /client certificate rejected/, refusals)
  await waitFor(() => rogue.lines.some((l) => /WARN|ERROR/.test(l)) && bare.lines.some((l) => /WARN|ERROR/.test(l)), 'both clients to log the failure')
  assert.equal(rogue.stats.get('tunnel.connected') + bare.stats.get('tunnel.connected'), 0)
  // Positive control after the refusals: the accepted client still gets through, and only it does.
  assert.equal(await roundTrip(t, near.inAddresses()[0]!.port, 'after'), 'reply0:after')
  assert.deepEqual(device.received.map((r) => text(r.data)), ['mtls', 'after'])
  assert.equal(c.received.length, 0)
})

test('tcp ,starttls: the client checks the server certificate (unknown CA, wrong name: refused and retried; sni= names it)', async (t) => {
  const device = await echoDevice(t)
  const far = await half(t, { in: 'tcp/server:127.0.0.1:0,starttls', out: `udp/broadcast:127.0.0.1:${device.port}`, tls: serverTls() })
  const port = far.inAddresses()[0]!.port
  const noCa = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tcp/client:127.0.0.1:${port},starttls`, maxRetryDelay: '5s' })
  const wrongName = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tcp/client:127.0.0.1:${port},starttls,sni=relay.example.com`, tls: clientTls(), maxRetryDelay: '5s' })
  await waitForLine(noCa.lines, /STARTTLS with 127\.0\.0\.1:\d+: server certificate of 127\.0\.0\.1:\d+ rejected/)
  await waitForLine(wrongName.lines, /STARTTLS with 127\.0\.0\.1:\d+: server certificate of 127\.0\.0\.1:\d+ rejected.*relay\.example\.com/)
  await waitForLine(noCa.lines, /retrying in/)
  assert.equal(noCa.stats.get('tunnel.connected') + wrongName.stats.get('tunnel.connected'), 0)
  const named = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tcp/client:127.0.0.1:${port},starttls,sni=localhost`, tls: clientTls() })
  assert.equal(await roundTrip(t, named.inAddresses()[0]!.port, 'sni'), 'reply0:sni')
})

test('tcp ,starttls: a man in the middle that removes the offer gets the client stopped with E_STARTTLS_REFUSED; nothing but the plain hello ever crossed', async (t) => {
  const device = await echoDevice(t)
  const token = 'never-in-the-clear'
  const client = (port: number) => half(t, { in: 'udp/listen:127.0.0.1:0', out: `tcp/client:127.0.0.1:${port},starttls`, tls: clientTls(), token, maxRetries: -1 })
  for (const serverStarttls of [true, false]) {
    // A server with ,starttls refuses the stripped hello; one without accepts it but does not agree.
    const far = await half(t, { in: `tcp/server:127.0.0.1:0${serverStarttls ? ',starttls' : ''}`, out: `udp/broadcast:127.0.0.1:${device.port}`, tls: serverTls() })
    const mitm = await proxy(t, far.inAddresses()[0]!.port, true)
    const near = await client(mitm.port)
    const peer = await udpPeer(t)
    peer.send('must not leak', near.inAddresses()[0]!.port)
    await assert.rejects(near.done, (e: Error & { code?: string }) => {
      assert.equal(e.code, 'E_STARTTLS_REFUSED', e.message)
      assert.match(e.message, serverStarttls ? /requires STARTTLS .* something on the path removed the offer/ : /accepted the tunnel without agreeing to STARTTLS .*not sending anything in plain text/)
      return true
    })
    assert.equal(mitm.stripped(), 1, 'one connection, one stripped hello: no retry')
    assert.ok(!contains(mitm.up(), token) && !contains(mitm.up(), 'must not leak'))
    assert.equal(device.received.length, 0)
    if (serverStarttls) await waitFor(() => far.stats.get('tunnel.starttls_missing') === 1, 'the server counts the missing offer')
  }
})

test('tcp ,starttls on one side only: a plain client is refused by a STARTTLS server, a STARTTLS client stops at a plain server', async (t) => {
  const device = await echoDevice(t)
  const tlsFar = await half(t, { in: 'tcp/server:127.0.0.1:0,starttls', out: `udp/broadcast:127.0.0.1:${device.port}`, tls: serverTls() })
  const plainNear = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tcp/client:127.0.0.1:${tlsFar.inAddresses()[0]!.port}`, maxRetryDelay: '5s' })
  await assert.rejects(plainNear.done, (e: Error & { code?: string }) => e.code === 'E_STARTTLS_REFUSED' && /requires STARTTLS/.test(e.message))
  const plainFar = await half(t, { in: 'tcp/server:127.0.0.1:0', out: `udp/broadcast:127.0.0.1:${device.port}` })
  const tlsNear = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tcp/client:127.0.0.1:${plainFar.inAddresses()[0]!.port},starttls`, tls: clientTls() })
  await assert.rejects(tlsNear.done, (e: Error & { code?: string }) => e.code === 'E_STARTTLS_REFUSED' && /STARTTLS offered but not done here/.test(e.message))
  // Positive control: the plain pair still works.
  const plainPair = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tcp/client:127.0.0.1:${plainFar.inAddresses()[0]!.port}` })
  assert.equal(await roundTrip(t, plainPair.inAddresses()[0]!.port, 'plain'), 'reply0:plain')
})

test('tcp ,starttls: bad settings and a runtime that cannot upgrade are refused at start', async (t) => {
  const out = (connector: string, extra: Partial<HalfOptions> = {}) => half(t, { in: 'udp/listen:127.0.0.1:0', out: connector, tls: clientTls(), ...extra })
  await assert.rejects(half(t, { in: 'tcp/server:127.0.0.1:0,starttls', out: 'udp/broadcast:127.0.0.1:9' }), /needs --cert and --key/)
  await assert.rejects(out('tcp/client:127.0.0.1:9,starttls=1'), /starttls takes no value/)
  await assert.rejects(out('tcp/client:127.0.0.1:9,sni=localhost'), /sni= is for TLS: use tls\/client, or tcp\/client with ,starttls/)
  await assert.rejects(out('tcp/client:127.0.0.1:9,starttls', { codec: 'uhppoted' }), /STARTTLS is agreed in the edgerelay hello/)
  await assert.rejects(out('tcp/client:127.0.0.1:9,starttls', { tls: { caCert: 'not a pem' } }), /--ca-cert does not hold a PEM certificate/)
  const noUpgrade = { ...runtime, capabilities: { ...runtime.capabilities, startTls: false }, startTls: undefined }
  await assert.rejects(out('tcp/client:127.0.0.1:9,starttls', { runtime: noUpgrade }), (e: Error & { code?: string }) => e.code === 'E_UNSUPPORTED_ON_RUNTIME' && /cannot start TLS on an open connection; use tls\/client/.test(e.message))
})
