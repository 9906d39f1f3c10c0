import assert from 'node:assert/strict'
import { protobufCodec } from '../../src/protocol/codecs/protobuf.ts'
import { Kind } from '../../src/protocol/frame.ts'
import { tokenSubprotocol } from '../../src/protocol/negotiate.ts'
import { lengthPrefixedWire } from '../../src/protocol/wire.ts'
import { test, waitFor } from '../harness.ts'
import { half } from '../helpers/halves.ts'
import { rawWebSocket } from '../helpers/raw-ws.ts'
import { echoDevice, text } from '../helpers/udp.ts'

// What only WebSocket has, on this runtime: ws/server's plain HTTP answers, the subprotocol
// negotiation and its refusals seen by a bare client, and the rules for messages. What every
// transport does (request/reply, reverse, tokens, backpressure...) is in transports.test.ts.
const wire = lengthPrefixedWire(protobufCodec)
const enc = new TextEncoder()

async function wsFar(t: Parameters<typeof half>[0], opts: { codec?: string; token?: string; path?: string; devicePort?: number } = {}) {
  const devicePort = opts.devicePort ?? (await echoDevice(t)).port
  const far = await half(t, { in: `ws/server:127.0.0.1:0${opts.path ?? '/tunnel'}`, out: `udp/broadcast:127.0.0.1:${devicePort}`, codec: opts.codec, token: opts.token })
  return { far, port: far.inAddresses()[0]!.port }
}

function frames(messages: { data: Uint8Array }[]) {
  const out: { flow: number; id: number; kind: number; payload: string; error?: string }[] = []
  const reader = wire.reader((f) => out.push({ flow: f.flow, id: f.id, kind: f.kind, payload: text(f.payload), error: f.error }), Kind.reply)
  for (const m of messages) reader.push(m.data)
  return out
}

test('the ws server answers GET /healthz, a plain GET of the tunnel path with 426, other paths with 404', async (t) => {
  const { port } = await wsFar(t)
  const health = await fetch(`http://127.0.0.1:${port}/healthz`)
  assert.equal(health.status, 200)
  assert.deepEqual(await health.json(), { status: 'ok', connector: 'ws/server', codec: 'protobuf', subprotocol: 'edgerelay.v1.protobuf' })
  const plain = await fetch(`http://127.0.0.1:${port}/tunnel`)
  assert.equal(plain.status, 426)
  assert.match(await plain.text(), /Sec-WebSocket-Protocol: edgerelay\.v1\.protobuf/)
  const other = await fetch(`http://127.0.0.1:${port}/elsewhere`)
  assert.equal(other.status, 404)
  await other.body?.cancel()
})

const refusals: { name: string; protocols?: string[]; headers?: Record<string, string>; status: number; code: string; reason: RegExp }[] = [
  { name: 'no subprotocol', status: 400, code: 'E_WS_PROTOCOL', reason: /no edgerelay subprotocol offered: send Sec-WebSocket-Protocol: edgerelay\.v1\.protobuf/ },
  { name: 'another codec', protocols: ['edgerelay.v1.avro'], headers: { authorization: 'Bearer s3cret' }, status: 400, code: 'E_CODEC_MISMATCH', reason: /this half speaks 'protobuf', the client offered 'avro'/ },
  { name: 'another version', protocols: ['edgerelay.v2.protobuf'], headers: { authorization: 'Bearer s3cret' }, status: 400, code: 'E_VERSION_MISMATCH', reason: /speaks version 1 .*offered version 2/ },
  { name: 'no token', protocols: ['edgerelay.v1.protobuf'], status: 401, code: 'E_AUTH', reason: /a token is required/ },
  { name: 'a wrong bearer token', protocols: ['edgerelay.v1.protobuf'], headers: { authorization: 'Bearer nope' }, status: 401, code: 'E_AUTH', reason: /wrong token/ },
  { name: 'a wrong token entry', protocols: ['edgerelay.v1.protobuf', tokenSubprotocol('nope')], status: 401, code: 'E_AUTH', reason: /wrong token/ },
]

for (const r of refusals) {
  test(`an upgrade with ${r.name} is refused with HTTP ${r.status}, a reason and ${r.code}`, async (t) => {
    const { far, port } = await wsFar(t, { token: 's3cret' })
    const ws = await rawWebSocket(t, port, { path: '/tunnel', protocols: r.protocols, headers: r.headers })
    assert.equal(ws.status, r.status)
    assert.equal(ws.headers['x-edgerelay-error'], r.code)
    assert.match(ws.body, r.reason)
    assert.equal(far.stats.get('tunnel.refused'), 1)
  })
}

test('the token may come as a subprotocol entry (browsers); the answer names only edgerelay.v1.<codec>', async (t) => {
  const { port } = await wsFar(t, { token: 'pässword/with=odd+chars' })
  const ws = await rawWebSocket(t, port, { path: '/tunnel', protocols: [tokenSubprotocol('pässword/with=odd+chars'), 'edgerelay.v1.protobuf'] })
  assert.equal(ws.status, 101)
  assert.equal(ws.headers['sec-websocket-protocol'], 'edgerelay.v1.protobuf')
  ws.send(wire.encode({ flow: 3, id: 9, kind: Kind.request, payload: enc.encode('tok') }))
  await waitFor(() => frames(ws.messages).length >= 1, 'a reply')
  assert.deepEqual(frames(ws.messages)[0], { flow: 3, id: 9, kind: Kind.reply, payload: 'reply0:tok', error: undefined })
})

test('several frames in one binary message are all answered, each on its own flow and id', async (t) => {
  const { port } = await wsFar(t)
  const ws = await rawWebSocket(t, port, { path: '/tunnel', protocols: ['edgerelay.v1.protobuf'] })
  assert.equal(ws.status, 101)
  const parts = [1, 2, 3].map((i) => wire.encode({ flow: 10 + i, id: i, kind: Kind.request, payload: enc.encode(`m${i}`) }))
  const message = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let off = 0
  for (const p of parts) {
    message.set(p, off)
    off += p.length
  }
  ws.send(message)
  await waitFor(() => frames(ws.messages).length >= 3, 'three replies')
  const got = frames(ws.messages).map((f) => `${f.flow}/${f.id}/${f.payload}`).sort()
  assert.deepEqual(got, ['11/1/reply0:m1', '12/2/reply0:m2', '13/3/reply0:m3'])
})

test('a message that ends inside a frame gets an error frame and the connection is closed; others are unaffected', async (t) => {
  const { far, port } = await wsFar(t)
  const good = await rawWebSocket(t, port, { path: '/tunnel', protocols: ['edgerelay.v1.protobuf'] })
  const bad = await rawWebSocket(t, port, { path: '/tunnel', protocols: ['edgerelay.v1.protobuf'] })
  const whole = wire.encode({ flow: 1, id: 1, kind: Kind.request, payload: enc.encode('torn') })
  bad.send(whole.subarray(0, whole.length - 2))
  await bad.closed
  const errors = frames(bad.messages).filter((f) => f.kind === Kind.error)
  assert.equal(errors.length, 1)
  assert.match(errors[0]!.error ?? '', /E_PARTIAL_FRAME/)
  assert.equal(far.stats.get('tunnel.protocol_errors'), 1)
  good.send(wire.encode({ flow: 1, id: 2, kind: Kind.request, payload: enc.encode('still') }))
  await waitFor(() => frames(good.messages).length >= 1, 'the other peer to get its reply')
  assert.equal(frames(good.messages)[0]!.payload, 'reply0:still')
})

test('a text message closes the connection with 1003 (binary only)', async (t) => {
  const { port } = await wsFar(t)
  const ws = await rawWebSocket(t, port, { path: '/tunnel', protocols: ['edgerelay.v1.protobuf'] })
  ws.send(enc.encode('hello'), 1)
  await ws.closed
  assert.equal(ws.closeCode(), 1003)
})

