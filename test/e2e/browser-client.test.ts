import assert from 'node:assert/strict'
import net from 'node:net'
import WsPackage from 'ws'
import { connectRelay, type RelayClientOptions } from '../../src/browser/client.ts'
import { test, waitFor } from '../harness.ts'
import { half } from '../helpers/halves.ts'
import { echoDevice, text } from '../helpers/udp.ts'
import { echoServer, httpServer, pattern, sha256 } from '../helpers/tcp-streams.ts'

// The browser client module outside the browser (quick, every codec): it runs wherever there is a
// standard WebSocket — Bun's and Deno's global, the ws package on Node 20 (whose global needs a
// flag). The chromium test (browser.test.ts) runs the same module in a real browser.

const WebSocketImpl = (globalThis.WebSocket ?? WsPackage) as unknown as RelayClientOptions['WebSocket']
const enc = (s: string) => new TextEncoder().encode(s)

for (const codec of ['protobuf', 'avro', 'msgpack', 'uhppoted']) {
  test(`browser client: request and replies through ws/server (${codec})`, async (t) => {
    const device = await echoDevice(t, { copies: 2 })
    // On WebSocket the token travels in the upgrade, so it works with uhppoted framing too.
    const token = 'tok'
    const far = await half(t, { in: 'ws/server:127.0.0.1:0/tunnel', out: `udp/broadcast:127.0.0.1:${device.port}`, codec, token, udpTimeout: '1s' })
    const relay = await connectRelay(`ws://127.0.0.1:${far.inAddresses()[0]!.port}/tunnel`, { codec, token, WebSocket: WebSocketImpl })
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

/** Everything a WHATWG readable gives until it closes. */
async function readAll(readable: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  const reader = readable.getReader()
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    chunks.push(value)
  }
  return new Uint8Array(Buffer.concat(chunks))
}

test('browser client: openStream gives a WHATWG pair over a stream of the mux: 1 MB echoed through tcp/dial, FIN both ways; an HTTP GET; a destination --allow refuses, and uhppoted framing, fail with their stream codes', async (t) => {
  const echo = await echoServer(t)
  const web = await httpServer(t, 100_000)
  const far = await half(t, { in: 'ws/server:127.0.0.1:0/tunnel', out: 'tcp/dial', allow: `127.0.0.1:${echo.port},127.0.0.1:${web.port}`, token: 'tok' })
  const url = `ws://127.0.0.1:${far.inAddresses()[0]!.port}/tunnel`
  const relay = await connectRelay(url, { token: 'tok', WebSocket: WebSocketImpl })
  t.defer(() => relay.close())

  const sent = pattern(1_000_000, 5)
  const { readable, writable } = await relay.openStream('127.0.0.1', echo.port)
  const back = readAll(readable)
  const writer = writable.getWriter()
  for (let i = 0; i < sent.length; i += 64 * 1024) await writer.write(sent.subarray(i, i + 64 * 1024))
  await writer.close()
  assert.equal(sha256(await back), sha256(sent), 'every byte back, then the readable closed at the echo server\'s FIN')
  await waitFor(() => echo.endings.includes('end'), 'the echo server to see our FIN')

  const http = await relay.openStream('localhost', web.port)
  const w = http.writable.getWriter()
  await w.write(new TextEncoder().encode(`GET /body HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`))
  const response = Buffer.from(await readAll(http.readable))
  const bodyAt = response.indexOf('\r\n\r\n') + 4
  assert.match(response.subarray(0, bodyAt).toString(), /^HTTP\/1.1 200/)
  assert.equal(sha256(response.subarray(bodyAt)), sha256(web.body))

  await assert.rejects(relay.openStream('127.0.0.1', 9), (e: Error & { streamCode?: string }) => {
    assert.equal(e.streamCode, 'not_allowed', e.message)
    assert.match(e.message, /not allowed by this half's --allow/)
    return true
  })
  await assert.rejects(relay.openStream('127.0.0.1', 0), (e: Error & { streamCode?: string }) => e.streamCode === 'bad_destination')
  assert.ok(relay.open, 'refusals leave the connection up')

  const device = await echoDevice(t)
  const far3 = await half(t, { in: 'ws/server:127.0.0.1:0/tunnel', out: `udp/broadcast:127.0.0.1:${device.port}`, codec: 'uhppoted' })
  const framed = await connectRelay(`ws://127.0.0.1:${far3.inAddresses()[0]!.port}/tunnel`, { codec: 'uhppoted', WebSocket: WebSocketImpl })
  t.defer(() => framed.close())
  await assert.rejects(framed.openStream('127.0.0.1', echo.port), (e: Error & { streamCode?: string }) => e.streamCode === 'unsupported' && /no flow ids/.test(e.message))

  const far2 = await half(t, { in: 'ws/server:127.0.0.1:0/tunnel', out: 'tcp/dial', allow: '*', codec: 'msgpack' })
  const plain = await connectRelay(`ws://127.0.0.1:${far2.inAddresses()[0]!.port}/tunnel`, { codec: 'msgpack', WebSocket: WebSocketImpl })
  t.defer(() => plain.close())
  const s2 = await plain.openStream('127.0.0.1', echo.port)
  const w2 = s2.writable.getWriter()
  await w2.write(new TextEncoder().encode('msgpack too'))
  await w2.close()
  assert.equal(Buffer.from(await readAll(s2.readable)).toString(), 'msgpack too')
}, { timeout: 30_000 })

/** A TCP server that sends `size` bytes to each client as fast as the client takes them, counting what it got rid of. */
async function firehose(t: Parameters<Parameters<typeof test>[1]>[0], size: number): Promise<{ port: number; written: number[]; closed: number[] }> {
  const state = { port: 0, written: [] as number[], closed: [] as number[] }
  const sockets = new Set<net.Socket>()
  const server = net.createServer((s) => {
    sockets.add(s)
    const i = state.written.push(0) - 1
    s.on('error', () => {})
    s.on('close', () => state.closed.push(i))
    const chunk = pattern(64 * 1024, 9)
    const more = () => {
      while (state.written[i]! < size) {
        state.written[i]! += chunk.length
        if (!s.write(chunk)) return void s.once('drain', more)
      }
      s.end()
    }
    more()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.defer(() => {
    for (const s of sockets) s.destroy()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  state.port = (server.address() as net.AddressInfo).port
  return state
}

test('browser client: a reader that stops holds the far end back (the far half stops reading its socket) and gets every byte once it reads again; cancelling the readable resets the stream', async (t) => {
  const size = 32 * 1024 * 1024
  const source = await firehose(t, size)
  const far = await half(t, { in: 'ws/server:127.0.0.1:0/tunnel', out: 'tcp/dial', allow: `127.0.0.1:${source.port}` })
  const relay = await connectRelay(`ws://127.0.0.1:${far.inAddresses()[0]!.port}/tunnel`, { WebSocket: WebSocketImpl })
  t.defer(() => relay.close())
  const { readable } = await relay.openStream('127.0.0.1', source.port)
  const reader = readable.getReader()
  const first = await reader.read()
  assert.ok(first.value && first.value.length > 0)
  // Not reading: the readable's queue (256 KiB), the stream's window and the sockets' buffers fill, and the source stops.
  await waitFor(() => source.written[0]! > 0, 'the source to start')
  await new Promise((r) => setTimeout(r, 1000))
  const whileStalled = source.written[0]!
  assert.ok(whileStalled < size / 2, `the source got rid of ${whileStalled} of ${size} bytes while nobody read: it should be held back`)
  reader.releaseLock()
  const rest = await readAll(readable)
  assert.equal(first.value!.length + rest.length, size, 'every byte arrived once the reader read again')

  const again = await relay.openStream('127.0.0.1', source.port)
  const r2 = again.readable.getReader()
  await r2.read()
  await r2.cancel('not interested')
  await waitFor(() => source.closed.includes(1), 'the far half to reset its connection to the source')
  assert.ok(source.written[1]! < size, 'the cancelled transfer stopped early')
}, { timeout: 30_000 })
