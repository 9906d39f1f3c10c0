import assert from 'node:assert/strict'
import process from 'node:process'
import { toHalfOptions } from '../../src/cli/half-options.ts'
import { parseArgs } from '../../src/cli/args.ts'
import { sleep, test, waitFor } from '../harness.ts'
import { half } from '../helpers/halves.ts'
import { freePort } from '../helpers/free-ports.mjs'
import { withFreePorts } from '../helpers/with-free-ports.ts'
import { echoDevice, text, udpPeer, udpPortBound } from '../helpers/udp.ts'

// Faults inside one process, on every runtime: the bounded queue while no tunnel is up, flow idle
// timeouts, dead peers. The CLI-level faults (SIGKILL, signals, namespaces) are in test/e2e.

test('while no tunnel is up, requests wait in a queue bounded by count and bytes; the rest are dropped and counted, memory stays bounded', async (t) => {
  // The far half binds `port` at the end: taken by then, the whole run starts again on another.
  await withFreePorts(t, 1, async ([port], t) => {
    const near = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tcp/client:127.0.0.1:${port}`, queueMaxPackets: 100, queueMaxBytes: 40_000, maxRetryDelay: '200ms', logLevel: 'info' })
    const nearPort = near.inAddresses()[0]!.port
    const client = await udpPeer(t)
    const payload = new Uint8Array(512).fill(0x61)
    const rssBefore = process.memoryUsage().rss
    // 20,000 datagrams from five clients, in bursts of 50, each burst once the half has read the
    // one before (so the kernel's receive buffer never overflows and none is lost).
    const clients = [client, ...(await Promise.all(Array.from({ length: 4 }, () => udpPeer(t))))]
    for (let i = 0; i < 20_000; i++) {
      payload[0] = i & 0xff
      clients[i % clients.length]!.send(payload, nearPort)
      if (i % 50 === 49) await waitFor(() => near.stats.get('udp.requests') > i, `datagram ${i + 1} to arrive (have ${near.stats.get('udp.requests')})`, 5000, 1)
    }
    const received = near.stats.get('udp.requests')
    assert.equal(received, 20_000)
    const dropped = near.stats.get('dropped.queue_full')
    // 40,000 bytes hold 78 datagrams of 512 bytes: the byte bound is the tighter one here.
    assert.equal(received - dropped, 78, `received ${received}, dropped ${dropped}`)
    assert.ok(near.lines.some((l) => /dropped \(queue_full\): no tunnel connected and the queue holds 78 packets \/ 39936 bytes/.test(l)), near.lines.slice(-5).join('\n'))
    // Drops are logged at most once a second, not once per datagram.
    assert.ok(near.lines.filter((l) => /queue_full/.test(l)).length <= 15)
    const grown = (process.memoryUsage().rss - rssBefore) / 1e6
    assert.ok(grown < 60, `RSS grew by ${grown.toFixed(1)} MB`)

    // The tunnel comes up: what was queued goes through, each client's in the order sent, and a
    // request from each client after it. A flow keeps its order end to end, so once every
    // client's last request is answered the device has had all that was queued: exactly 78.
    const device = await echoDevice(t)
    await half(t, { in: `tcp/server:127.0.0.1:${port}`, out: `udp/broadcast:127.0.0.1:${device.port}` })
    clients.forEach((c, k) => c.send(`after${k}`, nearPort))
    await Promise.all(clients.map((c, k) => waitFor(() => c.received.some((r) => text(r.data) === `reply0:after${k}`), `client ${k}'s fresh request to be answered`)))
    assert.equal(device.received.length, 78 + clients.length)
    const queued = device.received.filter((r) => r.data.length === 512).map((r) => r.data[0]!)
    assert.equal(queued.length, 78)
    for (let k = 0; k < clients.length; k++) {
      const own = device.received.filter((r) => r.data.length !== 512 ? text(r.data) === `after${k}` : r.data[0]! % clients.length === k).map((r) => (r.data.length === 512 ? r.data[0]! : Infinity))
      assert.deepEqual(own, [...own].sort((a, b) => a - b), `client ${k}'s requests reach the device in the order sent, its fresh one last`)
    }
  })
}, { timeout: 30_000 })

test('the queue count bound holds too, and --queue-packets / --queue-bytes reach the half', async (t) => {
  const opts = toHalfOptions(parseArgs(['--in', 'udp/listen:127.0.0.1:0', '--out', 'tcp/client:127.0.0.1:9', '--queue-packets', '5', '--queue-bytes', '1000000']).options, 'command line')
  assert.equal(opts.queueMaxPackets, 5)
  assert.equal(opts.queueMaxBytes, 1_000_000)
  const port = await freePort()
  const near = await half(t, { ...opts, out: `tcp/client:127.0.0.1:${port}`, maxRetryDelay: '200ms' })
  const client = await udpPeer(t)
  for (let i = 0; i < 50; i++) client.send(`q${i}`, near.inAddresses()[0]!.port)
  await waitFor(() => near.stats.get('udp.requests') === 50, 'the datagrams to arrive')
  assert.equal(near.stats.get('dropped.queue_full'), 45)
})

test('a UDP flow stays open while traffic flows either way, and closes after the idle time', async (t) => {
  // The device sees one source port per flow (the far half's per-flow socket): the port changes
  // only when the flow closed and a new one was opened.
  let unsolicited = false
  const device = await udpPeer(t, {
    onMessage(peer, data, address, port) {
      if (!unsolicited) peer.socket.send(Uint8Array.from([...new TextEncoder().encode('reply:'), ...data]), port, address)
    },
  })
  // The near half forgets an idle flow sooner than the far half (a flow lives between idle and
  // idle × 1.25): once the far half's per-flow socket has closed, the near half's flow is gone too.
  const far = await half(t, { in: 'tcp/server:127.0.0.1:0', out: `udp/broadcast:127.0.0.1:${device.port}`, udpTimeout: '100ms', flowIdle: '400ms' })
  const near = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tcp/client:127.0.0.1:${far.inAddresses()[0]!.port}`, udpTimeout: '100ms', flowIdle: '300ms' })
  const nearPort = near.inAddresses()[0]!.port
  const client = await udpPeer(t)
  const ports = () => [...new Set(device.received.map((r) => r.port))]

  // Requests every 150 ms for 1.2 s (3× the idle time): one flow throughout. (The gaps are what
  // is tested, shorter than the idle time: no event stands for them.)
  for (let i = 0; i < 8; i++) {
    client.send(`up${i}`, nearPort)
    await sleep(150)
  }
  await client.waitCount(8)
  assert.equal(ports().length, 1, 'requests alone keep the flow open')
  const flowPort = ports()[0]!

  // Now only the device talks (datagrams the far side sends unasked) for 1.2 s: still one flow,
  // and every datagram reaches the client.
  unsolicited = true
  for (let i = 0; i < 8; i++) {
    device.socket.send(new TextEncoder().encode(`down${i}`), flowPort, '127.0.0.1')
    await sleep(150)
  }
  await client.waitCount(16)
  assert.deepEqual(client.received.slice(8).map((r) => text(r.data)), Array.from({ length: 8 }, (_, i) => `down${i}`))
  unsolicited = false
  client.send('still', nearPort)
  await waitFor(() => device.received.length === 9, 'the request')
  assert.deepEqual(ports(), [flowPort], 'replies alone kept the flow open')

  // Silence: the flow expires on both halves (the far half's socket for it closes), and the next
  // request opens a new one from a new port.
  await waitFor(() => !udpPortBound(flowPort), 'the far half to close the idle flow\'s socket', 3000)
  client.send('later', nearPort)
  await waitFor(() => device.received.length === 10, 'the request after the idle time')
  assert.equal(ports().length, 2, 'a new flow after the idle time')
  assert.equal(near.stats.get('udp.flows'), 2)
}, { timeout: 15_000 })
