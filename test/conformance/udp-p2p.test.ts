import assert from 'node:assert/strict'
import { hostsResolver } from '../../mod.ts'
import { test, waitFor } from '../harness.ts'
import { half } from '../helpers/halves.ts'
import { onFreePorts } from '../helpers/free-ports.mjs'
import { echoDevice, text, udpPeer } from '../helpers/udp.ts'

// udp/p2p: two sites that know each other's address, each bound to its own port, exchanging
// datagrams with that one peer only (docs/addresses.md U7; the family rules run in test/ns/).

type T = Parameters<typeof half>[0]

/** Site A (udp/listen → udp/p2p) and site B (udp/p2p → udp/broadcast to the device). */
async function sites(t: T, devicePort: number) {
  return onFreePorts(2, async ([a, b]) => {
    const siteB = await half(t, { in: `udp/p2p:127.0.0.1:${b},peer=127.0.0.1:${a}`, out: `udp/broadcast:127.0.0.1:${devicePort}` })
    const siteA = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `udp/p2p:127.0.0.1:${a},peer=127.0.0.1:${b}` }).catch(async (e) => {
      await siteB.close()
      throw e
    })
    return { siteA, siteB, portA: a!, portB: b! }
  })
}

test('udp/p2p: a request crosses from one site to the other and its reply comes back, each end sending from its own port', async (t) => {
  const device = await echoDevice(t)
  const { siteA, siteB, portB } = await sites(t, device.port)
  const client = await udpPeer(t)
  client.send('over p2p', siteA.inAddresses()[0]!.port)
  await client.waitCount(1)
  assert.equal(text(client.received[0]!.data), 'reply0:over p2p')
  assert.deepEqual(siteB.inAddresses().map((a) => `${a.address}:${a.port}`), [`127.0.0.1:${portB}`])
  assert.ok(siteA.lines.some((l) => new RegExp(`sending to peer 127\\.0\\.0\\.1:${portB} from 127\\.0\\.0\\.1:\\d+`).test(l)), siteA.lines.join('\n'))
})

test('udp/p2p: datagrams from anyone but the peer are dropped and counted on both ends, while the peer\'s get through', async (t) => {
  const device = await echoDevice(t)
  const { siteA, siteB, portA, portB } = await sites(t, device.port)
  const stranger = await udpPeer(t)
  stranger.send('not the peer', portB)
  stranger.send('not the peer either', portA)
  const client = await udpPeer(t)
  client.send('from the peer', siteA.inAddresses()[0]!.port)
  await client.waitCount(1)
  await waitFor(() => siteB.stats.get('dropped.udp_stray') === 1 && siteA.stats.get('dropped.udp_stray') === 1, 'both strays counted')
  assert.deepEqual(device.received.map((r) => text(r.data)), ['from the peer'])
  assert.equal(stranger.received.length, 0)
})

test('udp/p2p as --out: what the peer sends before any flow has sent is dropped and counted; after that it is the reply of the flow that sent last', async (t) => {
  const peer = await udpPeer(t)
  const [a] = await onFreePorts(1, async (ports) => ports)
  const siteA = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `udp/p2p:127.0.0.1:${a},peer=127.0.0.1:${peer.port}` })
  peer.send('unasked', a!)
  await waitFor(() => siteA.stats.get('dropped.p2p_unsolicited') === 1, 'the unsolicited datagram counted')
  const client = await udpPeer(t)
  client.send('ask', siteA.inAddresses()[0]!.port)
  await peer.waitCount(1)
  assert.equal(text(peer.received[0]!.data), 'ask')
  assert.equal(peer.received[0]!.port, a, 'sent from the bound port')
  peer.send('answer', a!)
  await client.waitCount(1)
  assert.equal(text(client.received[0]!.data), 'answer')
})

test('udp/p2p: a local IPv4 address with a peer name of both families keeps IPv4 and warns W_FAMILY_FILTERED; with an IPv6-only peer it refuses with E_FAMILY_MISMATCH', async (t) => {
  const device = await echoDevice(t)
  const resolver = hostsResolver('::1 peer.test\n127.0.0.1 peer.test\n::1 six.test\n')
  const [a, b] = await onFreePorts(2, async (ports) => ports)
  await half(t, { in: `udp/p2p:127.0.0.1:${b},peer=127.0.0.1:${a}`, out: `udp/broadcast:127.0.0.1:${device.port}` })
  const siteA = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `udp/p2p:127.0.0.1:${a},peer=peer.test:${b}`, resolver })
  assert.ok(siteA.lines.some((l) => l.includes(`W_FAMILY_FILTERED udp/p2p:127.0.0.1:${a},peer=peer.test:${b}: no local IPv6 address is bound, so the peer's [::1]:${b} cannot be used; talking to 127.0.0.1:${b}`)), siteA.lines.join('\n'))
  const client = await udpPeer(t)
  client.send('v4 only', siteA.inAddresses()[0]!.port)
  await client.waitCount(1)
  assert.equal(text(client.received[0]!.data), 'reply0:v4 only')
  await assert.rejects(half(t, { in: 'udp/listen:127.0.0.1:0', out: 'udp/p2p:127.0.0.1:0,peer=six.test:5000', resolver }), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'E_FAMILY_MISMATCH')
    assert.match(e.message, /the local address has only IPv4 \(127\.0\.0\.1\) and the peer only IPv6 \(\[::1\]\)/)
    return true
  })
})

test('udp/p2p: a missing or bad peer=, other options and an interface are refused at start', async (t) => {
  const out = (c: string) => half(t, { in: 'udp/listen:127.0.0.1:0', out: c })
  await assert.rejects(out('udp/p2p:127.0.0.1:0'), /needs peer=<host>:<port>/)
  await assert.rejects(out('udp/p2p:127.0.0.1:0,peer=127.0.0.1:0'), /port 0 is valid only for listening[^]*peer=127\.0\.0\.1:0\n {37}\^/)
  await assert.rejects(out('udp/p2p:127.0.0.1:0,peer=*:5000'), (e: Error & { code?: string }) => e.code === 'E_INVALID_REMOTE')
  await assert.rejects(out('udp/p2p:127.0.0.1:0,peer=::1:5000'), (e: Error & { code?: string }) => e.code === 'E_IPV6_NEEDS_BRACKETS')
  await assert.rejects(out('udp/p2p:127.0.0.1:0,peer=127.0.0.1:5000,bind=127.0.0.1'), /unknown option 'bind' for udp\/p2p/)
  await assert.rejects(out('udp/p2p::lo:127.0.0.1:0,peer=127.0.0.1:5000'), /takes no interface/)
  await assert.rejects(out('udp4/p2p:127.0.0.1:0,peer=[::1]:5000'), (e: Error & { code?: string }) => e.code === 'E_FAMILY_CONFLICT')
})
