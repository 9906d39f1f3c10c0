import assert from 'node:assert/strict'
import { test, waitFor } from '../harness.ts'
import { half } from '../helpers/halves.ts'
import { clientSide, transport } from '../helpers/transports.ts'
import { echoDevice, roundTrip, text, udpPeer } from '../helpers/udp.ts'

// One half with several --in (all feeding the same --out, each peer isolated) and with several
// --out picked by --route rules: by in-connector and, for UHPPOTE requests, by controller serial.

type T = Parameters<typeof half>[0]

/** A 64-byte UHPPOTE request (0x17, function 0x20) for controller `serial`, tagged in its last byte. */
function uhppoteRequest(serial: number, tag: number): Uint8Array {
  const p = new Uint8Array(64)
  p[0] = 0x17
  p[1] = 0x20
  new DataView(p.buffer).setUint32(4, serial, true)
  p[63] = tag
  return p
}

test('one half listens on tcp/server, ws/server and grpc/server at once; all feed its one --out, and each peer gets its own replies', async (t) => {
  const device = await echoDevice(t)
  const far = await half(t, { in: ['tcp/server:127.0.0.1:0', 'ws/server:127.0.0.1:0/tunnel', 'grpc/server:127.0.0.1:0'], out: `udp/broadcast:127.0.0.1:${device.port}` })
  const ports = far.inAddresses().map((a) => a.port)
  assert.equal(ports.length, 3, JSON.stringify(far.inAddresses()))
  assert.deepEqual(far.connectors, { in: 'tcp/server + ws/server + grpc/server', out: 'udp/broadcast' })
  const nears = await Promise.all((['tcp', 'ws', 'grpc'] as const).map((name, i) => {
    const c = clientSide(transport(name), '127.0.0.1', ports[i]!)
    return half(t, { in: 'udp/listen:127.0.0.1:0', out: c.connector })
  }))
  const replies = await Promise.all(nears.map((n, i) => roundTrip(t, n.inAddresses()[0]!.port, `via-${['tcp', 'ws', 'grpc'][i]}`)))
  assert.deepEqual(replies, ['reply0:via-tcp', 'reply0:via-ws', 'reply0:via-grpc'])
  assert.deepEqual(device.received.map((r) => text(r.data)).sort(), ['via-grpc', 'via-tcp', 'via-ws'])
  assert.equal(far.stats.get('tunnel.accepted'), 3)
})

test('--route by in-connector: each --in goes to its own --out', async (t) => {
  const [a, b] = [await echoDevice(t), await echoDevice(t)]
  const h = await half(t, {
    in: ['udp/listen:127.0.0.1:0', 'udp/listen:127.0.0.1:0'],
    out: [`udp/broadcast:127.0.0.1:${a.port}`, `udp/broadcast:127.0.0.1:${b.port}`],
    routes: ['in=1,out=1', 'in=2,out=2'],
  })
  const [p1, p2] = h.inAddresses().map((x) => x.port)
  assert.equal(await roundTrip(t, p1!, 'first'), 'reply0:first')
  assert.equal(await roundTrip(t, p2!, 'second'), 'reply0:second')
  assert.deepEqual(a.received.map((r) => text(r.data)), ['first'])
  assert.deepEqual(b.received.map((r) => text(r.data)), ['second'])
})

test('--route by controller serial: one client\'s requests for two controllers go to two --out and both replies come back to it; other packets take the default', async (t) => {
  const [a, b] = [await echoDevice(t), await echoDevice(t)]
  const h = await half(t, {
    in: 'udp/listen:127.0.0.1:0',
    out: [`udp/broadcast:127.0.0.1:${a.port}`, `udp/broadcast:127.0.0.1:${b.port}`],
    routes: ['serial=405419896,out=1', 'out=2'],
  })
  const client = await udpPeer(t)
  const port = h.inAddresses()[0]!.port
  client.send(uhppoteRequest(405419896, 1), port)
  client.send(uhppoteRequest(303986753, 2), port)
  client.send('not uhppote', port)
  await client.waitCount(3)
  assert.deepEqual(a.received.map((r) => r.data[63]), [1], 'controller 405419896 → --out 1')
  assert.deepEqual(b.received.map((r) => (r.data.length === 64 ? `serial:${r.data[63]}` : text(r.data))).sort(), ['not uhppote', 'serial:2'])
  // Every reply reached the one client, whichever --out it came through.
  assert.equal(client.received.length, 3)
  assert.ok(client.received.some((r) => r.data.length === 71 && r.data[70] === 1), 'the reply from --out 1')
  await waitFor(() => h.stats.get('udp.flows') === 1, 'one flow on the --in')
})

test('--route in=… and serial=… together: the rule with both wins over either alone', async (t) => {
  const devices = [await echoDevice(t), await echoDevice(t), await echoDevice(t)]
  const h = await half(t, {
    in: ['udp/listen:127.0.0.1:0', 'udp/listen:127.0.0.1:0'],
    out: devices.map((d) => `udp/broadcast:127.0.0.1:${d.port}`),
    routes: ['serial=1234,out=2', 'in=2,serial=1234,out=3', 'out=1'],
  })
  const [p1, p2] = h.inAddresses().map((x) => x.port)
  const c1 = await udpPeer(t)
  const c2 = await udpPeer(t)
  c1.send(uhppoteRequest(1234, 1), p1!)
  c2.send(uhppoteRequest(1234, 2), p2!)
  c2.send(uhppoteRequest(99, 3), p2!)
  await c1.waitCount(1)
  await c2.waitCount(2)
  assert.deepEqual(devices.map((d) => d.received.map((r) => r.data[63])), [[3], [1], [2]])
})

test('--route sets that are ambiguous or incomplete, bad refs, and duplicate listeners are refused at start', async (t) => {
  const outs = ['udp/broadcast:127.0.0.1:9', 'udp/event:127.0.0.1:9']
  const ins = ['udp/listen:127.0.0.1:0', 'tcp/server:127.0.0.1:0']
  const start = (routes: string[] | undefined, o: { in?: string | string[]; out?: string | string[] } = {}) => half(t as T, { in: o.in ?? ins, out: o.out ?? outs, ...(routes ? { routes } : {}) })
  const refused = async (routes: string[] | undefined, re: RegExp, o?: Parameters<typeof start>[1]) => {
    await assert.rejects(start(routes, o), (e: Error & { code?: string }) => {
      assert.equal(e.code, re.source.includes('listens on') ? 'E_DUPLICATE_LISTEN' : 'E_CONFIG', e.message)
      assert.match(e.message, re)
      return true
    })
  }
  await refused(undefined, /this half has 2 --out connectors .* say which packets go where with --route/)
  await refused(['out=1'], /--route picks among several --out connectors; this half has one/, { out: 'udp/event:127.0.0.1:9' })
  await refused(['out=1', 'out=2'], /--route out=1 and --route out=2 are ambiguous/)
  await refused(['in=1,out=1', 'in=1,out=1', 'out=2'], /--route in=1,out=1 repeats --route in=1,out=1/)
  await refused(['serial=7,out=1', 'serial=7,out=2', 'out=1'], /ambiguous/)
  await refused(['in=1,out=1', 'serial=7,out=2'], /no --route for packets from --in 2 \(tcp\/server:127\.0\.0\.1:0\)/)
  await refused(['out=1'], /--out 2 \(udp\/event:127\.0\.0\.1:9\) is the target of no --route/)
  await refused(['in=3,out=1', 'out=2'], /in=3, but there are 2 --in/)
  await refused(['in=udp/listen,out=1', 'out=tcp/client'], /out=tcp\/client names no --out/)
  await refused(['in=udp/listen,out=1', 'out=udp/broadcast'], /out=udp\/broadcast names more than one --out/, { out: ['udp/broadcast:127.0.0.1:9', 'udp/broadcast:127.0.0.1:10'] })
  await refused(['serial=x,out=1', 'out=2'], /serial= is a controller serial number/)
  await refused(['to=1,out=1'], /unknown key 'to'/)
  await refused(['in=1'], /needs out=/)
  await refused(undefined, /listens on udp 127\.0\.0\.1:5300, as this half \(udp\/listen:127\.0\.0\.1:5300\) already does/, { in: ['udp/listen:127.0.0.1:5300', 'udp/listen:127.0.0.1:5300'], out: 'udp/event:127.0.0.1:9' })
  // A kind ref that two connectors share is refused with their positions.
  await refused(['in=udp/listen,out=1', 'out=2'], /in=udp\/listen names more than one --in \(1: udp\/listen:127\.0\.0\.1:0; 2: udp\/listen:127\.0\.0\.1:1\)/, { in: ['udp/listen:127.0.0.1:0', 'udp/listen:127.0.0.1:1'] })
})
