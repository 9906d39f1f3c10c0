import assert from 'node:assert/strict'
import WsPackage from 'ws'
import { connectRelay, type RelayClientOptions } from '../../src/browser/client.ts'
import { test, waitFor } from '../harness.ts'
import { half } from '../helpers/halves.ts'
import { echoDevice, text } from '../helpers/udp.ts'

// The browser client module outside the browser (quick, every codec): it runs wherever there is a
// standard WebSocket — Bun's and Deno's global, the ws package on Node 20 (whose global needs a
// flag). The chromium test (browser.test.ts) runs the same module in a real browser.

const WebSocketImpl = (globalThis.WebSocket ?? WsPackage) as unknown as RelayClientOptions['WebSocket']
const enc = (s: string) => new TextEncoder().encode(s)

for (const codec of ['protobuf', 'avro', 'msgpack', 'uhppoted']) {
  test(`browser client: request and replies through ws/server (${codec})`, async (t) => {
    const device = await echoDevice(t, { copies: 2 })
    const far = await half(t, { in: 'ws/server:127.0.0.1:0/tunnel', out: `udp/broadcast:127.0.0.1:${device.port}`, codec, token: 'tok', udpTimeout: '1s' })
    const relay = await connectRelay(`ws://127.0.0.1:${far.inAddresses()[0]!.port}/tunnel`, { codec, token: 'tok', WebSocket: WebSocketImpl })
    t.defer(() => relay.close())
    assert.equal(relay.protocol, `edgerelay.v1.${codec}`)
    const first = await relay.request(enc('one'), { waitMs: 2000 })
    assert.deepEqual(first.map(text), ['reply0:one'])
    const seen: string[] = []
    const all = await relay.request(enc('two'), { waitMs: 400, all: true, onReply: (p) => seen.push(text(p)) })
    assert.deepEqual(all.map(text).sort(), ['reply0:two', 'reply1:two'])
    assert.deepEqual(seen.sort(), ['reply0:two', 'reply1:two'])
  }, { timeout: 15_000 })
}

test('browser client: late datagrams of its flow arrive as events; a wrong token is refused', async (t) => {
  const device = await echoDevice(t, { delayMs: 300 })
  const far = await half(t, { in: 'ws/server:127.0.0.1:0/tunnel', out: `udp/broadcast:127.0.0.1:${device.port}`, token: 'tok', udpTimeout: '2s' })
  const url = `ws://127.0.0.1:${far.inAddresses()[0]!.port}/tunnel`
  const relay = await connectRelay(url, { token: 'tok', WebSocket: WebSocketImpl })
  t.defer(() => relay.close())
  const events: string[] = []
  relay.onEvent = (p) => events.push(text(p))
  assert.deepEqual(await relay.request(enc('late'), { waitMs: 50 }), [])
  await waitFor(() => events.length > 0, 'the late reply as an event', 3000)
  assert.deepEqual(events, ['reply0:late'])
  await assert.rejects(connectRelay(url, { token: 'wrong', WebSocket: WebSocketImpl }), /refused the upgrade/)
}, { timeout: 15_000 })

test('the browser client and the edge relay are package subpaths (edgerelay/browser, edgerelay/edge)', async () => {
  const browser = await import('edgerelay/browser')
  const edge = await import('edgerelay/edge')
  assert.equal(browser.connectRelay, connectRelay)
  assert.equal(typeof edge.edgeRelay, 'function')
})
