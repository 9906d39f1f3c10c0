/**
 * rate-limit / rate-limit-burst (uhppoted-tunnel's token bucket), on real sockets: the burst goes
 * through, the excess is dropped, counted and logged at most once a second.
 */
import assert from 'node:assert/strict'
import { test, waitFor } from '../harness.ts'
import { half } from '../helpers/halves.ts'
import { echoDevice, udpPeer } from '../helpers/udp.ts'

test('a burst of 3 at 1/s: 3 of 10 requests reach the device, 7 are dropped, counted, and logged once', async (t) => {
  const device = await echoDevice(t)
  const h = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `udp/broadcast:127.0.0.1:${device.port}`, rateLimit: { perSecond: 1, burst: 3 } })
  const client = await udpPeer(t)
  for (let i = 0; i < 10; i++) client.send(`q${i}`, h.inAddresses()[0]!.port)
  await client.waitCount(3)
  // The positive control (3 replies) arrived; the other 7 were dropped on the way in.
  await device.waitCount(3)
  await waitFor(() => h.stats.get('dropped.rate_limit') >= 7, '7 counted drops')
  assert.equal(h.stats.get('dropped.rate_limit'), 7)
  assert.equal(device.received.length, 3)
  assert.equal(h.lines.filter((l) => /dropped \(rate_limit\)/.test(l)).length, 1)
  assert.ok(h.lines.some((l) => /rate limit: 1 packets\/s, burst 3/.test(l)))
})

test('a library rate limit below 1 token of burst is a configuration error', async (t) => {
  await assert.rejects(half(t, { in: 'udp/listen:127.0.0.1:0', out: 'udp/broadcast:127.0.0.1:9', rateLimit: { perSecond: 0, burst: 1 } }), /rate-limit must be above 0/)
})
