import assert from 'node:assert/strict'
import dgram from 'node:dgram'
import { hostsResolver } from '../../mod.ts'
import { test, waitFor } from '../harness.ts'
import { half } from '../helpers/halves.ts'
import { echoDevice, text, udpPeer } from '../helpers/udp.ts'

// udp/client: a connected socket per flow, the addresses of a name tried in turn until one
// answers (then kept), and replies accepted from the connected address only.

/** A UDP socket on `address:port` that receives and never answers. */
async function silent(t: Parameters<typeof half>[0], address: string, port: number) {
  const got: string[] = []
  const s = dgram.createSocket('udp4')
  s.on('message', (m) => got.push(m.toString()))
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject)
    s.bind(port, address, () => resolve())
  })
  t.defer(() => s.close())
  return got
}

test('udp/client: request and reply over a connected socket', async (t) => {
  const device = await echoDevice(t)
  const near = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `udp/client:127.0.0.1:${device.port}` })
  const client = await udpPeer(t)
  client.send('hello', near.inAddresses()[0]!.port)
  await client.waitCount(1)
  assert.equal(text(client.received[0]!.data), 'reply0:hello')
})

test('udp/client: a refused address and a silent one are passed over; the one that answers wins and later flows start with it', async (t) => {
  const device = await echoDevice(t)
  const quiet = await silent(t, '127.0.0.2', device.port)
  // 127.0.0.4: nothing bound, so an ICMP port unreachable (ECONNREFUSED) moves on at once.
  const resolver = hostsResolver('127.0.0.4 svc.test\n127.0.0.2 svc.test\n127.0.0.1 svc.test\n')
  const near = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `udp/client:svc.test:${device.port},attempt-delay=100`, resolver })
  const nearPort = near.inAddresses()[0]!.port
  const first = await udpPeer(t)
  first.send('one', nearPort)
  await first.waitCount(1)
  assert.equal(text(first.received[0]!.data), 'reply0:one')
  assert.deepEqual(quiet, ['one'], 'the silent address was tried before the one that answered')
  await waitFor(() => near.lines.some((l) => new RegExp(`127\\.0\\.0\\.1:${device.port} answered; abandoned 127\\.0\\.0\\.4:${device.port}, 127\\.0\\.0\\.2:${device.port}`).test(l)), 'the winner line')
  const second = await udpPeer(t)
  second.send('two', nearPort)
  await second.waitCount(1)
  assert.equal(text(second.received[0]!.data), 'reply0:two')
  assert.deepEqual(quiet, ['one'], 'a later flow went straight to the address that answered')
})

test('udp/client: datagrams from another address or port never reach the flow', async (t) => {
  const spoofer = dgram.createSocket('udp4')
  await new Promise<void>((resolve) => spoofer.bind(0, '127.0.0.1', () => resolve()))
  t.defer(() => spoofer.close())
  const device = await udpPeer(t, {
    onMessage(peer, data, address, port) {
      // First a forged "reply" from another port to the flow's socket, then the real one.
      spoofer.send(Buffer.from('forged'), port, address, () => peer.socket.send(new TextEncoder().encode(`real:${text(data)}`), port, address))
    },
  })
  const near = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `udp/client:127.0.0.1:${device.port}` })
  const client = await udpPeer(t)
  client.send('q', near.inAddresses()[0]!.port)
  await client.waitCount(1)
  client.send('q2', near.inAddresses()[0]!.port)
  await client.waitCount(2)
  assert.deepEqual(client.received.map((r) => text(r.data)), ['real:q', 'real:q2'])
  // Node and Bun's kernels drop them (connect(2)); Deno's node:dgram hands them over and the adapter drops them.
  assert.equal(near.stats.get('dropped.udp_stray'), t.runtime === 'deno' ? 2 : 0)
})

test('udp/client: unknown options and listening use are refused', async (t) => {
  await assert.rejects(half(t, { in: 'udp/listen:127.0.0.1:0', out: 'udp/client:127.0.0.1:9,bind=127.0.0.1' }), /unknown option 'bind' for udp\/client/)
  await assert.rejects(half(t, { in: 'udp/client:127.0.0.1:9', out: 'udp/broadcast:127.0.0.1:9' }), /cannot be used as --in/)
})
