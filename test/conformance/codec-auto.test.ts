/**
 * `--codec auto`, the default of tcp/tls servers: one listening port serves edgerelay hellos of
 * every codec and uhppoted-tunnel framing side by side, decided per connection from the first
 * bytes; a silent peer is taken for a uhppoted-tunnel client (which waits for requests) unless a
 * token is required.
 */
import assert from 'node:assert/strict'
import { test, waitFor } from '../harness.ts'
import { half } from '../helpers/halves.ts'
import { rawConnect, type RawConn } from '../helpers/raw-tcp.ts'
import { echoDevice, text, udpPeer } from '../helpers/udp.ts'
import { uhppotedFrame } from '../helpers/uhppoted.ts'

const enc = new TextEncoder()

/** Waits until `conn` has received at least one whole uhppoted frame; returns the first one. */
async function firstFrame(conn: RawConn, what: string): Promise<{ id: number; payload: string }> {
  const frame = await waitFor((): { id: number; payload: string } | undefined => {
    const d = conn.data()
    if (d.length < 6) return undefined
    const view = new DataView(d.buffer, d.byteOffset, d.byteLength)
    const len = view.getUint16(0)
    return d.length >= 6 + len ? { id: view.getUint32(2), payload: text(d.subarray(6, 6 + len)) } : undefined
  }, what)
  return frame!
}

test('codec auto: protobuf, avro and uhppoted-tunnel clients are served side by side on one tcp/server port', async (t) => {
  const device = await echoDevice(t)
  const far = await half(t, { in: 'tcp/server:127.0.0.1:0', out: `udp/broadcast:127.0.0.1:${device.port}` })
  assert.ok(far.lines.some((l) => /listening on .* \(codec auto: an edgerelay hello of any codec, or uhppoted-tunnel framing\)/.test(l)), far.lines.join('\n'))
  const farPort = far.inAddresses()[0]!.port
  const nears = await Promise.all(['protobuf', 'avro'].map((codec) => half(t, { in: 'udp/listen:127.0.0.1:0', out: `tcp/client:127.0.0.1:${farPort}`, codec })))
  const client = await udpPeer(t)
  nears.forEach((near, i) => client.send(`edgerelay${i}`, near.inAddresses()[0]!.port))
  const old = await rawConnect(t, farPort)
  old.write(uhppotedFrame(7, 'old'))
  await client.waitCount(2)
  assert.deepEqual(client.received.map((r) => text(r.data)).sort(), ['reply0:edgerelay0', 'reply0:edgerelay1'])
  assert.deepEqual(await firstFrame(old, 'the uhppoted-framed reply'), { id: 7, payload: 'reply0:old' })
})

test('codec auto: a silent peer is taken for a uhppoted-tunnel client and gets requests in its framing (reverse tunnel)', async (t) => {
  // The near half listens (tcp/server as --out); the far half is uhppoted-tunnel, which never speaks first.
  const near = await half(t, { in: 'udp/listen:127.0.0.1:0', out: 'tcp/server:127.0.0.1:0' })
  const far = await rawConnect(t, near.outAddresses()[0]!.port)
  await waitFor(() => near.lines.some((l) => /peer 127\.0\.0\.1:\d+ connected/.test(l)), 'the silent peer to be taken for uhppoted-tunnel')
  const client = await udpPeer(t)
  client.send('to-device', near.inAddresses()[0]!.port)
  const request = await firstFrame(far, 'the request in uhppoted framing')
  assert.equal(request.payload, 'to-device')
  far.write(uhppotedFrame(request.id, 'from-device'))
  await client.waitCount(1)
  assert.equal(text(client.received[0]!.data), 'from-device')
})

test('codec auto with --token: uhppoted-tunnel framing (no token) is refused with the reason; a silent peer gets only the hello limit', async (t) => {
  const device = await echoDevice(t)
  const far = await half(t, { in: 'tcp/server:127.0.0.1:0', out: `udp/broadcast:127.0.0.1:${device.port}`, token: 's3cret', helloTimeout: '1500ms' })
  const farPort = far.inAddresses()[0]!.port
  const framed = await rawConnect(t, farPort)
  framed.write(uhppotedFrame(1, 'sneaky'))
  await framed.closed
  assert.match(text(framed.data()), /uhppoted-tunnel framing is refused because this half requires a token/)
  const silent = await rawConnect(t, farPort)
  const started = Date.now()
  await silent.closed
  const waited = Date.now() - started
  assert.ok(waited >= 1300, `the silent peer was dropped after ${waited} ms, before the 1500 ms hello limit`)
  await waitFor(() => far.lines.some((l) => /did not complete the hello within 1500 ms/.test(l)), 'the hello timeout to be logged')
  // Positive control on the same server: an edgerelay client with the token gets through.
  const near = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tcp/client:127.0.0.1:${farPort}`, token: 's3cret' })
  const client = await udpPeer(t)
  client.send('ok', near.inAddresses()[0]!.port)
  await client.waitCount(1)
  assert.equal(device.received.length, 1)
  assert.equal(text(device.received[0]!.data), 'ok')
})

test('codec auto: bytes that are neither the hello nor a plausible uhppoted frame (TLS, HTTP) are refused at once with a reason', async (t) => {
  const far = await half(t, { in: 'tcp/server:127.0.0.1:0', out: 'udp/broadcast:127.0.0.1:9' })
  const farPort = far.inAddresses()[0]!.port
  for (const [what, bytes] of [['a TLS ClientHello', Uint8Array.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])], ['an HTTP request', enc.encode('GET / HTTP/1.1\r\n\r\n')]] as const) {
    const conn = await rawConnect(t, farPort)
    const started = Date.now()
    conn.write(bytes)
    await conn.closed
    assert.ok(Date.now() - started < 900, `${what} waited ${Date.now() - started} ms for a refusal`)
    assert.match(text(conn.data()), /neither an edgerelay hello \(bad magic\) nor a uhppoted-tunnel frame/, what)
  }
  assert.equal(far.stats.get('tunnel.protocol_errors'), 2)
})

test('codec auto is refused on a dialling tunnel and on ws/grpc, with what to use instead', async (t) => {
  for (const out of ['tcp/client:127.0.0.1:9', 'ws/client:ws://127.0.0.1:9/t', 'grpc/client:127.0.0.1:9']) {
    await assert.rejects(half(t, { in: 'udp/listen:127.0.0.1:0', out, codec: 'auto' }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'E_CONFIG')
      assert.match(err.message, /--codec auto is for (listening tunnels|tcp and tls servers)/)
      return true
    }, out)
  }
})

test('--codec uhppoted with --token is refused at start on tcp and tls, where that framing cannot carry a token (ws and grpc carry it in headers)', async (t) => {
  for (const connector of ['tcp/server:127.0.0.1:0', 'tcp/client:127.0.0.1:9']) {
    const [inText, outText] = connector.startsWith('tcp/server') ? [connector, 'udp/broadcast:127.0.0.1:9'] : ['udp/listen:127.0.0.1:0', connector]
    await assert.rejects(half(t, { in: inText, out: outText, codec: 'uhppoted', token: 'x' }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'E_CONFIG')
      assert.match(err.message, /--token cannot be used with --codec uhppoted on tcp or tls.*--client-auth/)
      return true
    }, connector)
  }
})
