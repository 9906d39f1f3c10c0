/**
 * One owner per flow, least recently used out first: a flood of new clients past the flow bound
 * evicts the flows that went quiet, never one that keeps talking (docs/architecture.md).
 */
import assert from 'node:assert/strict'
import { test } from '../harness.ts'
import { half, tunnel } from '../helpers/halves.ts'
import { echoDevice, udpPeer, type UdpPeer } from '../helpers/udp.ts'

/** `active` talks (and is answered) between every few new clients; returns the flood's peers. */
async function flood(t: Parameters<typeof udpPeer>[0], active: UdpPeer, port: number, newcomers: number): Promise<UdpPeer[]> {
  const peers: UdpPeer[] = []
  let answered = 0
  for (let i = 0; i < newcomers; i++) {
    const p = await udpPeer(t)
    peers.push(p)
    p.send(`new${i}`, port)
    await p.waitCount(1)
    if (i % 3 === 0) {
      active.send(`active${i}`, port)
      await active.waitCount(++answered)
    }
  }
  return peers
}

test('udp/listen: a flood of new clients past the flow bound never evicts a client that keeps talking', async (t) => {
  const device = await echoDevice(t)
  const relay = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `udp/broadcast:127.0.0.1:${device.port}`, maxFlowsPerTunnel: 8 })
  const port = relay.inAddresses()[0]!.port
  const active = await udpPeer(t)
  active.send('hello', port)
  await active.waitCount(1)
  await flood(t, active, port, 30)
  const evictions = relay.lines.filter((l) => /dropped \(flow_evicted\)/.test(l))
  assert.ok(relay.stats.get('dropped.flow_evicted') >= 30 + 1 - 8, `evictions happened: ${relay.stats.get('dropped.flow_evicted')}`)
  assert.ok(!evictions.some((l) => l.includes(`:${active.port}:`) || l.includes(`:${active.port} `)), `the active client was evicted:\n${evictions.join('\n')}`)
  // The active flow kept its socket on the out side all along: every request left from one source port.
  const sources = new Set(device.received.filter((r) => new TextDecoder().decode(r.data).startsWith('active') || new TextDecoder().decode(r.data) === 'hello').map((r) => r.port))
  assert.equal(sources.size, 1, 'one flow, one socket, from the first request to the last')
})

test('tunnel: the far half\'s per-connection table evicts the least recently used flow, not the active one', async (t) => {
  const device = await echoDevice(t)
  const { far, nearPort } = await tunnel(t, device.port, {}, { maxFlowsPerTunnel: 8 })
  const active = await udpPeer(t)
  active.send('hello', nearPort)
  await active.waitCount(1)
  await flood(t, active, nearPort, 30)
  assert.ok(far.stats.get('dropped.flow_evicted') >= 30 + 1 - 8)
  const sources = new Set(device.received.filter((r) => /^(active|hello)/.test(new TextDecoder().decode(r.data))).map((r) => r.port))
  assert.equal(sources.size, 1, 'the active flow kept its far-side socket through the flood')
})
