import assert from 'node:assert/strict'
import { protobufCodec } from '../../src/protocol/codecs/protobuf.ts'
import { Kind } from '../../src/protocol/frame.ts'
import { encodeClientHello, parseServerReply } from '../../src/protocol/hello.ts'
import { lengthPrefixedWire, uhppotedWire } from '../../src/protocol/wire.ts'
import { test, waitFor } from '../harness.ts'
import { concat } from '../helpers/bytes.mjs'
import { half, tunnel } from '../helpers/halves.ts'
import { rawConnect } from '../helpers/raw-tcp.ts'
import { echoDevice, text, udpPeer } from '../helpers/udp.ts'

const wire = lengthPrefixedWire(protobufCodec)
const enc = new TextEncoder()

/** Reads every complete frame in `bytes` (after a hello reply, if any). */
function framesIn(bytes: Uint8Array, w = wire, skipHello = true): { flow: number; id: number; kind: number; payload: string; error?: string }[] {
  let data = bytes
  if (skipHello) {
    const r = parseServerReply(data)
    if (!r) return []
    assert.ok(r.reply.accepted, 'hello accepted')
    data = data.subarray(r.length)
  }
  const frames: { flow: number; id: number; kind: number; payload: string; error?: string }[] = []
  w.reader((f) => frames.push({ flow: f.flow, id: f.id, kind: f.kind, payload: text(f.payload), error: f.error }), Kind.reply).push(data)
  return frames
}

async function farHalf(t: Parameters<typeof half>[0], codec = 'protobuf') {
  const device = await echoDevice(t)
  const far = await half(t, { in: 'tcp/server:127.0.0.1:0', out: `udp/broadcast:127.0.0.1:${device.port}`, codec })
  return { far, port: far.inAddresses()[0]!.port }
}

test('a hello and frames sent one byte at a time are reassembled exactly', async (t) => {
  const { port } = await farHalf(t)
  const conn = await rawConnect(t, port)
  const oneByteAtATime = async (bytes: Uint8Array) => {
    for (const b of bytes) await conn.deliver(Uint8Array.of(b))
  }
  await oneByteAtATime(encodeClientHello({ codec: 'protobuf' }))
  // Each request answered before the next one starts: a reply carries the id of its flow's
  // latest request (README, --udp-timeout).
  for (const i of [1, 2, 3]) {
    await oneByteAtATime(wire.encode({ flow: 7, id: i, kind: Kind.request, payload: enc.encode(`split${i}`) }))
    await waitFor(() => framesIn(conn.data()).length === i, `reply ${i}`, 5000)
  }
  assert.deepEqual(framesIn(conn.data()).map((f) => [f.flow, f.id, f.payload]).sort(), [[7, 1, 'reply0:split1'], [7, 2, 'reply0:split2'], [7, 3, 'reply0:split3']])
})

test('many frames in one write all get answered', async (t) => {
  const { port, far } = await farHalf(t)
  const conn = await rawConnect(t, port)
  conn.write(concat([encodeClientHello({ codec: 'protobuf' }), ...Array.from({ length: 50 }, (_, i) => wire.encode({ flow: 1 + (i % 5), id: i + 1, kind: Kind.request, payload: enc.encode(`m${i}`) }))]))
  await waitFor(() => framesIn(conn.data()).length === 50, `50 replies (have ${framesIn(conn.data()).length})`, 5000).catch((e) => { throw new Error(`${e.message}: ${JSON.stringify(framesIn(conn.data()).slice(0, 3))} ${far.stats.snapshot ? JSON.stringify(far.stats.snapshot()) : ""}`) })
  // Replies come back on the flow that asked; which of a flow's requests a datagram answers is
  // not knowable from UDP, so the id is the flow's latest request (see README, --udp-timeout).
  const frames = framesIn(conn.data())
  assert.deepEqual(frames.map((f) => f.payload).sort(), Array.from({ length: 50 }, (_, i) => `reply0:m${i}`).sort())
  for (const f of frames) assert.equal(f.flow, 1 + (Number(f.payload.slice(8)) % 5))
})

test('uhppoted framing: frames split and batched are reassembled, datagrams over 2,048 bytes are not truncated', async (t) => {
  const { port } = await farHalf(t, 'uhppoted')
  const conn = await rawConnect(t, port)
  const big = new Uint8Array(5000).fill(0x41)
  const bytes = concat([uhppotedWire.encode({ flow: 0, id: 1, kind: Kind.request, payload: enc.encode('one') }), uhppotedWire.encode({ flow: 0, id: 2, kind: Kind.request, payload: big })])
  await conn.deliver(bytes.subarray(0, 4))
  await conn.deliver(bytes.subarray(4, 3000))
  await conn.deliver(bytes.subarray(3000))
  await waitFor(() => framesIn(conn.data(), uhppotedWire, false).length === 2, 'two replies', 5000)
  const frames = framesIn(conn.data(), uhppotedWire, false).sort((a, b) => a.id - b.id)
  assert.equal(frames[0]!.payload, 'reply0:one')
  assert.equal(frames[1]!.payload.length, 5007)
})

test('random bytes on tcp/server get a refusal and a disconnect; other flows keep working', async (t) => {
  const device = await echoDevice(t)
  const { far, farPort, nearPort } = await tunnel(t, device.port)
  const client = await udpPeer(t)
  client.send('before', nearPort)
  await client.waitCount(1)
  const junk = await rawConnect(t, farPort)
  junk.write(Uint8Array.from({ length: 300 }, (_, i) => (i * 37 + 11) & 0xff))
  await junk.closed
  assert.match(new TextDecoder().decode(junk.data()), /bad magic/)
  await waitFor(() => far.stats.get('tunnel.protocol_errors') >= 1, 'the bad peer to be counted')
  client.send('after', nearPort)
  await client.waitCount(2)
  assert.equal(text(client.received[1]!.data), 'reply0:after')
})

test('a hello with the wrong version or a wrong codec is refused with a reason', async (t) => {
  const { port } = await farHalf(t)
  const bad = encodeClientHello({ codec: 'protobuf' })
  bad[4] = 9
  const c1 = await rawConnect(t, port)
  c1.write(bad)
  await c1.closed
  assert.match(new TextDecoder().decode(c1.data()), /version 9/)
  const c2 = await rawConnect(t, port)
  c2.write(encodeClientHello({ codec: 'avro' }))
  await c2.closed
  const reply = parseServerReply(c2.data())
  assert.equal(reply?.reply.accepted, false)
  assert.match(reply!.reply.reason, /codec mismatch/)
})

test('a frame whose length field lies is refused with an error frame, and the connection closed', async (t) => {
  const { far, port } = await farHalf(t)
  const conn = await rawConnect(t, port)
  const frame = wire.encode({ flow: 1, id: 1, kind: Kind.request, payload: enc.encode('x') })
  // Claim 3 bytes of body where the protobuf encoding needs more: decoding must fail, not misread.
  const lying = frame.slice(0, 4 + 3)
  new DataView(lying.buffer).setUint32(0, 3)
  const huge = Uint8Array.of(0x7f, 0xff, 0xff, 0xff)
  conn.write(concat([encodeClientHello({ codec: 'protobuf' }), lying, huge]))
  await conn.closed
  const frames = framesIn(conn.data())
  assert.equal(frames.at(-1)!.kind, Kind.error)
  assert.match(frames.at(-1)!.error ?? '', /E_FRAME/)
  assert.ok(far.stats.get('tunnel.protocol_errors') >= 1)
})

test('a stream open on a half whose out carries no streams is refused with the reason; the connection stays and serves datagrams', async (t) => {
  const { port } = await farHalf(t)
  const conn = await rawConnect(t, port)
  conn.write(concat([encodeClientHello({ codec: 'protobuf' }), wire.encode({ flow: 3, id: 0, kind: Kind.open, payload: new Uint8Array(0), dst: '127.0.0.1:22' }), wire.encode({ flow: 5, id: 10, kind: Kind.request, payload: enc.encode('still') })]))
  // The half may ping first (it measures the round trip for stream windows): look past pings.
  const received = () => framesIn(conn.data()).filter((f) => f.kind !== Kind.ping)
  await waitFor(() => received().length === 2, 'a refusal and a reply')
  const frames = received()
  assert.equal(frames[0]!.kind, Kind.close)
  assert.equal(frames[0]!.flow, 3)
  assert.match(frames[0]!.error ?? '', /this half's --out \(udp\/broadcast:127\.0\.0\.1:\d+\) does not carry TCP streams/)
  assert.equal(frames[1]!.payload, 'reply0:still')
  assert.equal(conn.isClosed(), false)
})

test('a wrong token is refused and never reaches the out connector', async (t) => {
  const device = await echoDevice(t)
  const far = await half(t, { in: 'tcp/server:127.0.0.1:0', out: `udp/broadcast:127.0.0.1:${device.port}`, token: 's3cret' })
  const conn = await rawConnect(t, far.inAddresses()[0]!.port)
  conn.write(concat([encodeClientHello({ codec: 'protobuf', token: 'guess' }), wire.encode({ flow: 1, id: 1, kind: Kind.request, payload: enc.encode('x') })]))
  await conn.closed
  assert.match(parseServerReply(conn.data())!.reply.reason, /wrong token/)
  // The positive control: the same bytes with the right token, on a connection opened after the
  // refused one closed, get their reply; by then only that request has reached the device.
  const good = await rawConnect(t, far.inAddresses()[0]!.port)
  good.write(concat([encodeClientHello({ codec: 'protobuf', token: 's3cret' }), wire.encode({ flow: 1, id: 1, kind: Kind.request, payload: enc.encode('y') })]))
  await waitFor(() => framesIn(good.data()).length === 1, 'the reply to the accepted request')
  assert.equal(framesIn(good.data())[0]!.payload, 'reply0:y')
  assert.deepEqual(device.received.map((r) => text(r.data)), ['y'])
  assert.equal(far.stats.get('udp.sent.request'), 1)
})
