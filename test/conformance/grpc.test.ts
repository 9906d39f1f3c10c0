import assert from 'node:assert/strict'
import http2 from 'node:http2'
import { protobufCodec } from '../../src/protocol/codecs/protobuf.ts'
import { codecOfContentType, decodeGrpcMessage, encodeGrpcMessage } from '../../src/connectors/grpc.ts'
import { Kind, type Frame } from '../../src/protocol/frame.ts'
import { grpcWire } from '../../src/protocol/wire.ts'
import { MAX_BUFFERED } from '../../src/core/tunnel/bounded-conn.ts'
import { test, waitFor } from '../harness.ts'
import { half } from '../helpers/halves.ts'
import { echoDevice, text, udpPeer } from '../helpers/udp.ts'

// grpc/server and grpc/client on this runtime, and a hand-driven node:http2 client that checks
// the gRPC surface: framing, trailers, status codes for refusals.
const CODECS = ['protobuf', 'avro', 'msgpack', 'uhppoted']
const wire = grpcWire(protobufCodec)
const enc = new TextEncoder()

async function grpcFar(t: Parameters<typeof half>[0], opts: { codec?: string; token?: string; udpTimeout?: string } = {}) {
  const device = await echoDevice(t)
  const far = await half(t, { in: 'grpc/server:127.0.0.1:0', out: `udp/broadcast:127.0.0.1:${device.port}`, codec: opts.codec, token: opts.token, udpTimeout: opts.udpTimeout })
  return { far, port: far.inAddresses()[0]!.port }
}

interface CallResult {
  headers: Record<string, unknown>
  trailers: Record<string, unknown>
  frames: Frame[]
}

/** One Relay call with raw node:http2: sends `frames`, half-closes, collects until the server ends. */
function rawCall(t: Parameters<typeof half>[0], port: number, frames: Frame[], headers: Record<string, string> = {}): Promise<CallResult> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`)
    t.defer(() => session.destroy())
    session.on('error', reject)
    const req = session.request({ ':method': 'POST', ':path': '/edgerelay.v1.Tunnel/Relay', 'content-type': 'application/grpc', te: 'trailers', ...headers })
    const result: CallResult = { headers: {}, trailers: {}, frames: [] }
    const reader = wire.reader((f) => result.frames.push({ ...f, payload: f.payload.slice() }), Kind.reply)
    req.on('response', (h) => (result.headers = h))
    req.on('trailers', (h) => (result.trailers = h))
    req.on('data', (d: Uint8Array) => reader.push(d))
    req.on('close', () => {
      session.close()
      resolve(result)
    })
    req.on('error', () => {})
    for (const f of frames) req.write(wire.encode(f))
    req.end()
  })
}

for (const codec of CODECS) {
  test(`request and reply through a grpc tunnel (${codec})`, async (t) => {
    const { port } = await grpcFar(t, { codec, token: 'g1' })
    const near = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `grpc/client:127.0.0.1:${port}`, codec, token: 'g1' })
    const client = await udpPeer(t)
    client.send('hello', near.inAddresses()[0]!.port)
    await client.waitCount(1)
    assert.equal(text(client.received[0]!.data), 'reply0:hello')
  })
}

test('reverse grpc tunnel: the far half dials out with grpc/client as --in', async (t) => {
  const device = await echoDevice(t)
  const near = await half(t, { in: 'udp/listen:127.0.0.1:0', out: 'grpc/server:127.0.0.1:0' })
  const far = await half(t, { in: `grpc/client:127.0.0.1:${near.outAddresses()[0]!.port}`, out: `udp/broadcast:127.0.0.1:${device.port}` })
  await waitFor(() => far.stats.get('tunnel.connected') === 1, 'far half to connect')
  const client = await udpPeer(t)
  client.send('rev', near.inAddresses()[0]!.port)
  await client.waitCount(1)
  assert.equal(text(client.received[0]!.data), 'reply0:rev')
})

test('a gRPC call that half-closes after its requests gets every reply, then status OK in the trailers', async (t) => {
  const { port } = await grpcFar(t, { udpTimeout: '300ms' })
  const requests = [1, 2, 3].map((i) => ({ flow: 4 + i, id: i, kind: Kind.request, payload: enc.encode(`q${i}`) }) as Frame)
  const r = await rawCall(t, port, requests)
  assert.equal(r.headers[':status'], 200)
  assert.equal(r.headers['content-type'], 'application/grpc+proto')
  assert.equal(r.trailers['grpc-status'], '0')
  assert.deepEqual(r.frames.map((f) => `${f.flow}/${f.id}/${f.kind}/${text(f.payload)}`).sort(), ['5/1/2/reply0:q1', '6/2/2/reply0:q2', '7/3/2/reply0:q3'])
})

const refusals: { name: string; headers: Record<string, string>; status: string; code: string; message: RegExp }[] = [
  { name: 'no token', headers: {}, status: '16', code: 'E_AUTH', message: /a token is required/ },
  { name: 'a wrong token', headers: { authorization: 'Bearer nope' }, status: '16', code: 'E_AUTH', message: /wrong token/ },
  { name: 'another codec', headers: { authorization: 'Bearer gt', 'content-type': 'application/grpc+avro' }, status: '3', code: 'E_CODEC_MISMATCH', message: /this half speaks 'protobuf'/ },
  { name: 'another method', headers: { authorization: 'Bearer gt', ':path': '/edgerelay.v1.Tunnel/Nope' }, status: '12', code: 'E_GRPC_METHOD', message: /unknown method/ },
  { name: 'compression', headers: { authorization: 'Bearer gt', 'grpc-encoding': 'gzip' }, status: '12', code: 'E_GRPC_COMPRESSED', message: /not supported/ },
]

for (const r of refusals) {
  test(`a gRPC call with ${r.name} ends at once with grpc-status ${r.status} and a reason`, async (t) => {
    const { far, port } = await grpcFar(t, { token: 'gt' })
    const res = await rawCall(t, port, [{ flow: 1, id: 1, kind: Kind.request, payload: enc.encode('x') }], r.headers)
    // Trailers-Only: the status is in the response headers.
    assert.equal(res.headers['grpc-status'], r.status)
    assert.equal(res.headers['x-edgerelay-error'], r.code)
    assert.match(decodeGrpcMessage(res.headers['grpc-message'] as string), r.message)
    assert.equal(res.frames.length, 0)
    assert.equal(far.stats.get('tunnel.refused'), 1)
  })
}

test('a grpc/client with the wrong token stops with E_AUTH and the server\'s reason', async (t) => {
  const { port } = await grpcFar(t, { token: 'right' })
  const near = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `grpc/client:127.0.0.1:${port}`, token: 'wrong', maxRetries: 0 })
  await assert.rejects(near.done, (err: Error & { code?: string }) => {
    assert.equal(err.code, 'E_CONNECT')
    assert.match(err.message, /server refused the tunnel: gRPC status 16: wrong token/)
    return true
  })
})

test('gRPC helpers: content-types map to codecs, grpc-message is percent-encoded both ways', () => {
  assert.equal(codecOfContentType('application/grpc'), 'protobuf')
  assert.equal(codecOfContentType('application/grpc+proto'), 'protobuf')
  assert.equal(codecOfContentType('application/grpc+avro; charset=x'), 'avro')
  assert.equal(codecOfContentType('application/json'), undefined)
  const text = 'wrong token: 100% sûr\n'
  assert.match(encodeGrpcMessage(text), /^[\x20-\x7e]+$/)
  assert.equal(decodeGrpcMessage(encodeGrpcMessage(text)), text)
})

test('grpc to a wildcard server (every family) over IPv6 ([::1]) and by name (localhost), through the address layer', async (t) => {
  const device = await echoDevice(t)
  const far = await half(t, { in: 'grpc/server:*:0', out: `udp/broadcast:127.0.0.1:${device.port}` })
  const port = far.inAddresses()[0]!.port
  for (const host of ['[::1]', 'localhost']) {
    const near = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `grpc/client:${host}:${port}` })
    const client = await udpPeer(t)
    client.send(host, near.inAddresses()[0]!.port)
    await client.waitCount(1)
    assert.equal(text(client.received[0]!.data), `reply0:${host}`)
  }
})

test('a gRPC client that stops reading costs the server a bounded buffer; the excess is dropped and counted', async (t) => {
  const size = 30_000
  const big = new Uint8Array(size).fill(9)
  const device = await udpPeer(t, {
    onMessage(peer, _data, address, port) {
      peer.socket.send(big, port, address)
      peer.socket.send(big, port, address)
    },
  })
  const far = await half(t, { in: 'grpc/server:127.0.0.1:0', out: `udp/broadcast:127.0.0.1:${device.port}` })
  const session = http2.connect(`http://127.0.0.1:${far.inAddresses()[0]!.port}`)
  t.defer(() => session.destroy())
  session.on('error', () => {})
  const req = session.request({ ':method': 'POST', ':path': '/edgerelay.v1.Tunnel/Relay', 'content-type': 'application/grpc', te: 'trailers' })
  req.on('error', () => {})
  // Never read: HTTP/2 flow control stops the server after the first window, the rest waits in
  // the server's buffers, up to the cap.
  req.pause()
  const target = 24 * 1024 * 1024
  const deadline = Date.now() + 20_000
  let id = 0
  while (far.stats.get('udp.replies') * size < target && Date.now() < deadline) {
    for (let i = 0; i < 5; i++) req.write(wire.encode({ flow: 1, id: ++id, kind: Kind.request, payload: enc.encode(`r${id}`) }))
    await new Promise((r) => setTimeout(r, 2))
  }
  await new Promise((r) => setTimeout(r, 200))
  assert.ok(far.stats.get('udp.replies') * size >= target, `only ${far.stats.get('udp.replies')} replies reached the far half`)
  assert.ok(far.stats.get('dropped.backpressure') > 0, `expected backpressure drops, stats: ${JSON.stringify(far.stats.snapshot())}`)
  const peak = far.stats.get('tunnel.buffered_peak')
  assert.ok(peak <= MAX_BUFFERED + 64 * 1024, `the server buffered up to ${peak} bytes for one call`)
}, { timeout: 40_000 })
