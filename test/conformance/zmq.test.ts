import assert from 'node:assert/strict'
import { protobufCodec } from '../../src/protocol/codecs/protobuf.ts'
import { Kind } from '../../src/protocol/frame.ts'
import { lengthPrefixedWire } from '../../src/protocol/wire.ts'
import { ZmtpReader, encodeCommand, encodeGreeting, encodeReady, messageHeader, parseCommand, parseErrorReason } from '../../src/protocol/zmtp.ts'
import { test, waitFor } from '../harness.ts'
import { half } from '../helpers/halves.ts'
import { rawConnect, type RawConn } from '../helpers/raw-tcp.ts'
import { echoDevice, text, udpPeer } from '../helpers/udp.ts'

// zmq/server (ROUTER) and zmq/client (DEALER) on this runtime: request/reply in every edgerelay
// codec, refusals (token, codec, socket type), and a bare ZMTP peer sending what a libzmq program
// never would: each bad frame is dropped and counted, the connection and other peers carry on.
const wire = lengthPrefixedWire(protobufCodec)
const enc = new TextEncoder()

async function zmqFar(t: Parameters<typeof half>[0], opts: { codec?: string; token?: string } = {}) {
  const device = await echoDevice(t)
  const far = await half(t, { in: 'zmq/server:127.0.0.1:0', out: `udp/broadcast:127.0.0.1:${device.port}`, ...opts })
  return { far, port: far.inAddresses()[0]!.port }
}

async function roundTrip(t: Parameters<typeof half>[0], nearPort: number, payload: string) {
  const client = await udpPeer(t)
  client.send(payload, nearPort)
  await client.waitCount(1)
  return text(client.received[0]!.data)
}

for (const codec of ['protobuf', 'avro', 'msgpack']) {
  test(`request and reply through a zmq tunnel (${codec}, token)`, async (t) => {
    const { port } = await zmqFar(t, { codec, token: 'z1' })
    const near = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `zmq/client:127.0.0.1:${port}`, codec, token: 'z1' })
    assert.equal(await roundTrip(t, near.inAddresses()[0]!.port, 'hello'), 'reply0:hello')
  })
}

test('zmq: a wrong token and a codec mismatch are refused on both sides with their codes', async (t) => {
  const { far, port } = await zmqFar(t, { token: 'right' })
  const wrong = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `zmq/client:127.0.0.1:${port}`, token: 'wrong', maxRetryDelay: '5s' })
  await waitFor(() => wrong.lines.some((l) => /E_AUTH: wrong token/.test(l)), 'the client to report E_AUTH')
  await waitFor(() => far.lines.some((l) => /refused ZMTP peer .*wrong token/.test(l)), 'the server to log the refusal')
  const avro = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `zmq/client:127.0.0.1:${port}`, token: 'right', codec: 'avro', maxRetryDelay: '5s' })
  await waitFor(() => avro.lines.some((l) => /codec mismatch: this half speaks 'protobuf', the peer 'avro'/.test(l)), 'the client to report the mismatch')
  assert.ok(far.stats.get('tunnel.refused') >= 2)
  assert.equal(far.stats.get('tunnel.accepted'), 0)
})

test('zmq: --codec uhppoted is refused at start with what to use instead', async (t) => {
  await assert.rejects(half(t, { in: 'zmq/server:127.0.0.1:0', out: 'udp/broadcast:127.0.0.1:9', codec: 'uhppoted' }), /zmq carries edgerelay codecs/)
})

/** A bare ZMTP peer: greeting, then whatever the test writes; frames it receives, parsed. */
async function bareZmtp(t: Parameters<typeof half>[0], port: number, ready: Record<string, string> | undefined) {
  const raw = await rawConnect(t, port)
  raw.write(encodeGreeting(false))
  if (ready) raw.write(encodeReady(ready))
  return raw
}

function received(raw: RawConn) {
  const out: { command?: string; reason?: string; frame?: { flow: number; id: number; kind: number; payload: string } }[] = []
  const reader = new ZmtpReader(1 << 20, {
    frame(body, command) {
      if (command) {
        const c = parseCommand(body)
        out.push({ command: c.name, reason: c.name === 'ERROR' ? parseErrorReason(c.data) : undefined })
      } else {
        wire.reader((f) => out.push({ frame: { flow: f.flow, id: f.id, kind: f.kind, payload: text(f.payload) } }), Kind.reply).push(body)
      }
    },
    oversize() {},
  })
  reader.push(raw.data().subarray(64))
  return out
}

const zmtpMessage = (body: Uint8Array, more = false) => {
  const h = messageHeader(body.length)
  h[0]! |= more ? 1 : 0
  return Uint8Array.from([...h, ...body])
}
const request = (id: number, payload: string) => zmtpMessage(wire.encode({ flow: 5, id, kind: Kind.request, payload: enc.encode(payload) }))

test('zmq/server: multi-part, oversized, empty messages and stray commands are dropped and counted; the peer keeps its tunnel', async (t) => {
  const { far, port } = await zmqFar(t)
  const peer = await bareZmtp(t, port, { 'Socket-Type': 'DEALER' })
  peer.write(zmtpMessage(enc.encode('part one'), true))
  peer.write(zmtpMessage(enc.encode('part two')))
  peer.write(zmtpMessage(new Uint8Array(200_000)))
  peer.write(zmtpMessage(new Uint8Array(0)))
  peer.write(encodeCommand('SUBSCRIBE', enc.encode('topic')))
  peer.write(encodeCommand('PING', Uint8Array.of(0, 10, 0x61, 0x62)))
  peer.write(request(1, 'after the junk'))
  await waitFor(() => received(peer).some((r) => r.frame?.payload === 'reply0:after the junk'), 'the reply after the junk').catch((e) => { throw new Error(`${e.message}: ${JSON.stringify(far.stats.snapshot())} ${far.lines.join('\n')} ${JSON.stringify(received(peer))}`) })
  const got = received(peer)
  assert.deepEqual(got.filter((r) => r.command).map((r) => r.command), ['READY', 'PONG'])
  assert.deepEqual(got.find((r) => r.frame)!.frame, { flow: 5, id: 1, kind: Kind.reply, payload: 'reply0:after the junk' })
  assert.equal(far.stats.get('dropped.zmq_multipart'), 1)
  assert.equal(far.stats.get('dropped.zmq_oversize'), 1)
  assert.equal(far.stats.get('dropped.zmq_empty'), 1)
  assert.equal(far.stats.get('dropped.zmq_command'), 1)
  assert.equal(peer.isClosed(), false)
})

test('zmq/server: unparseable streams are closed and counted, never crash the half or harm another peer', async (t) => {
  const { far, port } = await zmqFar(t, { token: 'tok' })
  const good = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `zmq/client:127.0.0.1:${port}`, token: 'tok' })
  const cases: { what: string; ready?: Record<string, string>; then: Uint8Array; error?: RegExp }[] = [
    { what: 'reserved flag bits', ready: { 'Socket-Type': 'DEALER', 'X-Edgerelay-Token': 'tok' }, then: Uint8Array.of(0xf0, 1, 0) },
    { what: 'a message before READY', then: zmtpMessage(enc.encode('early')) },
    { what: 'a PUB socket', ready: { 'Socket-Type': 'PUB', 'X-Edgerelay-Token': 'tok' }, then: new Uint8Array(0), error: /E_ZMTP_SOCKET_TYPE: socket type PUB cannot talk to this ROUTER: use DEALER/ },
    { what: 'no token', ready: { 'Socket-Type': 'DEALER' }, then: new Uint8Array(0), error: /E_AUTH: a token is required/ },
    { what: 'a malformed READY', then: encodeCommand('READY', Uint8Array.of(200, 1, 2)) },
    { what: 'a bad frame in a message', ready: { 'Socket-Type': 'DEALER', 'X-Edgerelay-Token': 'tok' }, then: zmtpMessage(Uint8Array.of(0, 0, 0, 3, 0xff, 0xff, 0xff)) },
  ]
  for (const c of cases) {
    const peer = await bareZmtp(t, port, c.ready)
    if (c.then.length) peer.write(c.then)
    await peer.closed
    if (c.error) assert.match(received(peer).find((r) => r.command === 'ERROR')?.reason ?? '', c.error, c.what)
  }
  const http = await rawConnect(t, port)
  http.write(enc.encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
  await http.closed
  assert.ok(far.stats.get('tunnel.protocol_errors') >= 3, JSON.stringify(far.stats.snapshot()))
  assert.ok(far.stats.get('tunnel.refused') >= 2)
  assert.equal(await roundTrip(t, good.inAddresses()[0]!.port, 'still fine'), 'reply0:still fine')
})

test('zmq/server: a peer that never finishes the handshake is dropped after --hello-timeout', async (t) => {
  const device = await echoDevice(t)
  const far = await half(t, { in: 'zmq/server:127.0.0.1:0', out: `udp/broadcast:127.0.0.1:${device.port}`, helloTimeout: '300ms' })
  const silent = await rawConnect(t, far.inAddresses()[0]!.port)
  silent.write(encodeGreeting(false).subarray(0, 20))
  await silent.closed
  await waitFor(() => far.lines.some((l) => /not accepted: ZMTP handshake not completed within 300 ms/.test(l)), 'the timeout line')
})
