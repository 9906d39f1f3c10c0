import assert from 'node:assert/strict'
import { test, waitFor, waitForLine } from '../harness.ts'
import { half, tunnel } from '../helpers/halves.ts'
import { echoDevice, roundTrip, text, udpPeer } from '../helpers/udp.ts'

const CODECS = ['protobuf', 'avro', 'msgpack', 'uhppoted']

for (const codec of CODECS) {
  test(`a 65,507-byte datagram crosses whole, and zero-length ones are counted drops (${codec})`, async (t) => {
    const device = await echoDevice(t)
    const { near, nearPort } = await tunnel(t, device.port, { codec })
    const client = await udpPeer(t)
    client.send(new Uint8Array(0), nearPort)
    await waitFor(() => near.stats.get('dropped.empty_datagram') === 1, 'the empty datagram to be counted')
    // The echo adds 7 bytes, so the reply would exceed 65,507: use a device that replies with the same size.
    const big = new Uint8Array(65_507).map((_, i) => i % 251)
    const mirror = await udpPeer(t, { onMessage: (p, data, a, port) => p.socket.send(data.map((b) => b ^ 0xff), port, a) })
    const { nearPort: port2 } = await tunnel(t, mirror.port, { codec })
    client.send(big, port2)
    await client.waitCount(1, 8000)
    const got = client.received[0]!.data
    assert.equal(got.length, 65_507)
    assert.ok(got.every((b, i) => b === ((i % 251) ^ 0xff)))
  })
}

test('every reply to a broadcast comes back, each the moment it arrives', async (t) => {
  const device = await echoDevice(t, { copies: 3 })
  const { nearPort } = await tunnel(t, device.port)
  const client = await udpPeer(t)
  client.send('who', nearPort)
  await client.waitCount(3)
  assert.deepEqual(client.received.map((r) => text(r.data)).sort(), ['reply0:who', 'reply1:who', 'reply2:who'])
})

test('replies after --udp-timeout: delivered late on flow-carrying codecs, dropped and counted with uhppoted framing', async (t) => {
  // 'late' is answered after 600 ms, anything else at once.
  const device = await echoDevice(t, { delayMs: (request) => (request === 'late' ? 600 : 0) })
  const a = await tunnel(t, device.port, { udpTimeout: '200ms' })
  const client = await udpPeer(t)
  client.send('late', a.nearPort)
  await client.waitCount(1)
  assert.equal(a.far.stats.get('udp.late_replies'), 1)

  const b = await tunnel(t, device.port, { udpTimeout: '200ms', codec: 'uhppoted' })
  const client2 = await udpPeer(t)
  client2.send('late', b.nearPort)
  await waitFor(() => b.far.stats.get('dropped.flow_closed') + b.near.stats.get('dropped.reply_unknown_flow') + b.far.stats.get('udp.late_replies') >= 1, 'the late reply to be accounted', 4000)
  // The positive control: a request answered at once, through the same tunnel after the late
  // reply was accounted, comes back; the late reply, had it been forwarded, would have come first.
  client2.send('prompt', b.nearPort)
  await client2.waitCount(1)
  assert.deepEqual(client2.received.map((r) => text(r.data)), ['reply0:prompt'])
})

test('udp/event in and out: one-way datagrams, nothing waits for a reply, and answers are dropped and counted', async (t) => {
  // A sink that answers anyway: its answers reach the far half's event socket and end there.
  const sink = await echoDevice(t)
  const far = await half(t, { in: 'tcp/server:127.0.0.1:0', out: `udp/event:127.0.0.1:${sink.port}` })
  const near = await half(t, { in: 'udp/event:127.0.0.1:0', out: `tcp/client:127.0.0.1:${far.inAddresses()[0]!.port}` })
  const sender = await udpPeer(t)
  for (let i = 0; i < 5; i++) sender.send(`event${i}`, near.inAddresses()[0]!.port)
  await sink.waitCount(5)
  assert.deepEqual(sink.received.map((r) => text(r.data)).sort(), ['event0', 'event1', 'event2', 'event3', 'event4'])
  assert.equal(far.stats.get('tunnel.received.event'), 5)
  // Every answer arrived at the far half and was dropped there: none is on its way to the sender.
  await waitFor(() => far.stats.get('dropped.event_reply') === 5, 'the five answers to be dropped and counted')
  assert.equal(sender.received.length, 0)
})

test('100 clients with interleaved requests each get exactly their own answers', async (t) => {
  const device = await echoDevice(t, { delayMs: 5 })
  const { nearPort } = await tunnel(t, device.port)
  const clients = await Promise.all(Array.from({ length: 100 }, () => udpPeer(t)))
  // All 100 clients send at once in each round (their requests interleave on the tunnel); rounds
  // are paced so a burst never exceeds a default-sized socket receive buffer.
  for (let round = 0; round < 3; round++) {
    clients.forEach((c, i) => c.send(`c${i}r${round}`, nearPort))
    await Promise.all(clients.map((c) => c.waitCount(round + 1, 8000)))
  }
  clients.forEach((c, i) => {
    assert.deepEqual(c.received.map((r) => text(r.data)).sort(), [0, 1, 2].map((r) => `reply0:c${i}r${r}`))
  })
})

test('a restarted near half never receives replies meant for its previous run', async (t) => {
  const device = await echoDevice(t, { delayMs: 400 })
  const far = await half(t, { in: 'tcp/server:127.0.0.1:0', out: `udp/broadcast:127.0.0.1:${device.port}` })
  const farPort = far.inAddresses()[0]!.port
  const first = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tcp/client:127.0.0.1:${farPort}` })
  const nearPort = first.inAddresses()[0]!.port
  const client = await udpPeer(t)
  client.send('old-run', nearPort)
  await waitFor(() => far.stats.get('udp.sent.request') === 1, 'the request to reach the device')
  await first.close()
  const second = await half(t, { in: `udp/listen:127.0.0.1:${nearPort}`, out: `tcp/client:127.0.0.1:${farPort}` })
  await waitFor(() => second.stats.get('tunnel.connected') === 1, 'the new run to connect')
  client.send('new-run', nearPort)
  await client.waitCount(1)
  // The device has answered the previous run's request; a request sent after that is answered
  // after it too, so a reply misrouted to the new run would have come in first.
  await waitFor(() => device.answered.includes('old-run'), 'the device to answer the previous run')
  client.send('last', nearPort)
  await client.waitCount(2)
  assert.deepEqual(client.received.map((r) => text(r.data)), ['reply0:new-run', 'reply0:last'])
})

test('two halves with different codecs refuse each other with a clear message on both sides', async (t) => {
  const device = await echoDevice(t)
  const far = await half(t, { in: 'tcp/server:127.0.0.1:0', out: `udp/broadcast:127.0.0.1:${device.port}`, codec: 'avro' })
  const near = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tcp/client:127.0.0.1:${far.inAddresses()[0]!.port}`, codec: 'msgpack', maxRetryDelay: '5s' })
  await waitFor(() => near.lines.some((l) => /refused.*codec mismatch.*'avro'.*'msgpack'/.test(l)), 'the near half to log the refusal')
  await waitFor(() => far.lines.some((l) => /codec mismatch/.test(l)), 'the far half to log the refusal')
  // uhppoted framing has no hello: its first frame is refused as bad data, and goes no further.
  const u = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tcp/client:127.0.0.1:${far.inAddresses()[0]!.port}`, codec: 'uhppoted', maxRetryDelay: '5s' })
  const refused = await udpPeer(t)
  refused.send('uhppoted-framed', u.inAddresses()[0]!.port)
  await waitForLine(far.lines, /peer .* sent bad data: .*did not start with the edgerelay hello \(bad magic [0-9a-f ]+\): .*--codec uhppoted/)
  assert.equal(far.stats.get('tunnel.protocol_errors'), 1)
  // The positive control: an avro near half, started after the refusal, gets its reply through
  // the same far half; by then only its request has reached the device, and no reply the other.
  const avro = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tcp/client:127.0.0.1:${far.inAddresses()[0]!.port}`, codec: 'avro' })
  assert.equal(await roundTrip(t, avro.inAddresses()[0]!.port, 'avro'), 'reply0:avro')
  assert.deepEqual(device.received.map((r) => text(r.data)), ['avro'])
  assert.equal(refused.received.length, 0)
  assert.equal(u.stats.get('tunnel.received.reply'), 0)
})

test('a port already in use is a listen error naming the address', async (t) => {
  const first = await half(t, { in: 'udp/listen:127.0.0.1:0', out: 'udp/broadcast:127.0.0.1:9' })
  const port = first.inAddresses()[0]!.port
  await assert.rejects(half(t, { in: `udp/listen:127.0.0.1:${port}`, out: 'udp/broadcast:127.0.0.1:9' }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'E_LISTEN')
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`))
    return true
  })
})

test('uhppoted framing under load: requests awaiting replies are bounded per connection, the oldest closed and counted', async (t) => {
  const device = await echoDevice(t)
  const { far, nearPort } = await tunnel(t, device.port, { codec: 'uhppoted' }, { maxReplyWindows: 8 })
  // A steady stream of requests, each answered at once but each window (and socket) held for
  // --udp-timeout: without the bound, sockets pile up until the process runs out of descriptors.
  const clients = await Promise.all(Array.from({ length: 40 }, () => udpPeer(t)))
  for (const [i, c] of clients.entries()) {
    c.send(`w${i}`, nearPort)
    await c.waitCount(1)
    assert.equal(text(c.received[0]!.data), `reply0:w${i}`)
  }
  assert.equal(far.stats.get('dropped.reply_window_evicted'), 32)
})

test('a tunnel peer opening ever more flows is bounded: the oldest flows are closed and counted', async (t) => {
  const device = await echoDevice(t)
  const { far, nearPort } = await tunnel(t, device.port, {}, { maxFlowsPerTunnel: 5 })
  const clients = await Promise.all(Array.from({ length: 12 }, () => udpPeer(t)))
  for (const [i, c] of clients.entries()) {
    c.send(`f${i}`, nearPort)
    await c.waitCount(1)
  }
  assert.equal(far.stats.get('dropped.flow_evicted'), 7)
  // The newest flow still works after the evictions.
  clients.at(-1)!.send('again', nearPort)
  await clients.at(-1)!.waitCount(2)
})
