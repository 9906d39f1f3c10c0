import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseUdpRequest } from '../../src/connectors/http-in.ts'
import { test } from '../harness.ts'
import { RECORDS, startDnsmasq } from '../helpers/dns.ts'
import { dnsQuery } from '../helpers/dnsmasq.mjs'
import { half } from '../helpers/halves.ts'
import { echoDevice } from '../helpers/udp.ts'

// The http/<addr> in-connector speaks uhppoted-tunnel's JSON API and serves its --html pages.
const enc = new TextEncoder()

async function httpHalf(t: Parameters<typeof half>[0], opts: { copies?: number; html?: string; out?: string } = {}) {
  const device = opts.out ? undefined : await echoDevice(t, { copies: opts.copies })
  const out = opts.out ?? `udp/broadcast:127.0.0.1:${device!.port}`
  const h = await half(t, { in: 'http/127.0.0.1:0', out, html: opts.html })
  return { h, device, base: `http://127.0.0.1:${h.inAddresses()[0]!.port}` }
}

function post(url: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  return fetch(url, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) })
}

test('POST /udp/broadcast returns every reply that arrives within "wait", with the caller\'s ID', async (t) => {
  const { base } = await httpHalf(t, { copies: 3 })
  const started = Date.now()
  const res = await post(`${base}/udp/broadcast`, { ID: 17, wait: '300ms', request: [...enc.encode('who')] })
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('content-type'), 'application/json')
  const body = await res.json() as { ID: number; replies: number[][] }
  assert.ok(Date.now() - started >= 280, 'answered only after the wait')
  assert.equal(body.ID, 17)
  assert.deepEqual(body.replies.map((r) => String.fromCharCode(...r)).sort(), ['reply0:who', 'reply1:who', 'reply2:who'])
})

test('POST /udp/send with "wait": "0s" answers with the first reply at once; the request may be base64', async (t) => {
  const { base } = await httpHalf(t, { copies: 2 })
  const started = Date.now()
  const res = await post(`${base}/udp/send`, { ID: 3, wait: '0s', request: btoa('ping') })
  const body = await res.json() as { ID: number; replies: number[][] }
  assert.ok(Date.now() - started < 2000)
  assert.deepEqual(body, { ID: 3, replies: [[...enc.encode('reply0:ping')]] })
})

test('no reply within the wait is an empty list (uhppoted-tunnel\'s answer), not an error', async (t) => {
  const { base } = await httpHalf(t, { out: 'udp/broadcast:127.0.0.1:9' })
  const res = await post(`${base}/udp/broadcast`, { ID: 1, wait: '100ms', request: [1, 2, 3] })
  assert.deepEqual(await res.json(), { ID: 1, replies: [] })
})

test('bad requests get uhppoted-tunnel\'s statuses: 400 content-type and body, 405 method', async (t) => {
  const { base, h } = await httpHalf(t)
  let res = await post(`${base}/udp/send`, { ID: 1, request: [1] }, { 'content-type': 'text/plain' })
  assert.equal(res.status, 400)
  assert.match(await res.text(), /Invalid request content-type \(text\/plain\)/)
  res = await post(`${base}/udp/send`, '{not json')
  assert.equal(res.status, 400)
  assert.match(await res.text(), /Invalid request body/)
  for (const bad of [{ ID: 1, request: [256] }, { ID: 1, request: [] }, { ID: 'x', request: [1] }, { ID: 1, wait: 5, request: [1] }, { ID: 1 }]) {
    res = await post(`${base}/udp/broadcast`, bad)
    assert.equal(res.status, 400, JSON.stringify(bad))
    await res.body?.cancel()
  }
  res = await fetch(`${base}/udp/send`)
  assert.equal(res.status, 405)
  await res.body?.cancel()
  assert.equal(h.stats.get('http.bad_requests'), 6)
})

test('large replies are gzipped for clients that accept it', async (t) => {
  const big = new Uint8Array(4000).fill(65)
  const { base } = await httpHalf(t, { copies: 3 })
  const res = await post(`${base}/udp/broadcast`, { ID: 9, wait: '200ms', request: [...big] }, { 'content-type': 'application/json', 'accept-encoding': 'gzip' })
  assert.equal(res.headers.get('content-encoding'), 'gzip')
  const body = await res.json() as { replies: number[][] }
  assert.equal(body.replies.length, 3)
  assert.equal(body.replies[0]!.length, 4007)
})

test('static files come from --html: index.html for folders, no listings, no dot-files, nothing outside', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'edgerelay-html-'))
  writeFileSync(join(dir, 'index.html'), '<h1>uhppoted</h1>')
  writeFileSync(join(dir, 'app.js'), 'console.log(1)')
  writeFileSync(join(dir, '.secret'), 'no')
  mkdirSync(join(dir, 'empty'))
  const { base } = await httpHalf(t, { html: dir })
  let res = await fetch(`${base}/`)
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8')
  assert.equal(await res.text(), '<h1>uhppoted</h1>')
  res = await fetch(`${base}/app.js`)
  assert.match(res.headers.get('content-type') ?? '', /javascript/)
  assert.equal(await res.text(), 'console.log(1)')
  for (const [path, status] of [['/.secret', 403], ['/empty/', 403], ['/..%2f..%2fetc%2fpasswd', 403], ['/missing.html', 404]] as const) {
    res = await fetch(`${base}${path}`)
    assert.equal(res.status, status, path)
    await res.body?.cancel()
  }
})

test('http → ws tunnel → dnsmasq: a DNS query posted as JSON comes back answered', async (t) => {
  const dns = await startDnsmasq(t)
  const far = await half(t, { in: 'ws/server:127.0.0.1:0/t', out: `udp/broadcast:127.0.0.1:${dns}` })
  const { base } = await httpHalf(t, { out: `ws/client:ws://127.0.0.1:${far.inAddresses()[0]!.port}/t` })
  const query = [...dnsQuery(0x0102, 'host.example')]
  const res = await post(`${base}/udp/send`, { ID: 5, wait: '0s', request: query })
  const body = await res.json() as { ID: number; replies: number[][] }
  assert.equal(body.ID, 5)
  const answer = body.replies[0]!
  assert.deepEqual(answer.slice(0, 2), [1, 2])
  assert.equal(answer.slice(-4).join('.'), RECORDS['host.example'])
})

test('parseUdpRequest follows uhppoted-tunnel\'s defaults: ID 0, wait 5s', () => {
  assert.deepEqual(parseUdpRequest({ request: [1, 2] }), { id: 0, waitMs: 5000, request: Uint8Array.from([1, 2]), answer: 'all', form: 'replies' })
  assert.deepEqual(parseUdpRequest({ request: [1, 2] }, '/udp/send'), { id: 0, waitMs: 5000, request: Uint8Array.from([1, 2]), answer: 'first', form: 'reply' })
  assert.equal(parseUdpRequest({ ID: 4, wait: '1m30s', request: [1] }).waitMs, 90_000)
  assert.throws(() => parseUdpRequest({ ID: 4, wait: '10m', request: [1] }), /at most/)
})

// The request shapes of uhppoted-tunnel's own page (examples/html/javascript/udp.js): send() posts
// {"ID", "wait": !nowait, "request"} to /udp/send and reads reply.reply; broadcast() posts
// {"ID", "wait": "500ms", "request"} to /udp/broadcast and reads reply.replies.
test('udp.js send(): "wait": true answers {"ID","reply"} with the first reply at once', async (t) => {
  const { base } = await httpHalf(t, { copies: 2 })
  const res = await post(`${base}/udp/send`, { ID: 1, wait: true, request: [0x17, 0x20, 0, 0] })
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('content-type'), 'application/json')
  assert.deepEqual(await res.json(), { ID: 1, reply: [...enc.encode('reply0:'), 0x17, 0x20, 0, 0] })
  // Absent "wait" is the same on /udp/send.
  const again = await post(`${base}/udp/send`, { ID: 2, request: [0x17, 0x20] })
  assert.deepEqual(await again.json(), { ID: 2, reply: [...enc.encode('reply0:'), 0x17, 0x20] })
})

test('udp.js send(bytes, nowait): "wait": false answers {"ID"} at once and still sends the request', async (t) => {
  const { base, device } = await httpHalf(t)
  const res = await post(`${base}/udp/send`, { ID: 4, wait: false, request: [0x17, 0x96, 0, 0] })
  assert.equal(res.status, 200)
  assert.deepEqual(await res.json(), { ID: 4 })
  await device!.waitCount(1)
  assert.deepEqual([...device!.received[0]!.data], [0x17, 0x96, 0, 0])
})

test('udp.js broadcast(): "wait": "500ms" collects every reply; "wait": "0s" answers {"ID","replies":[]} at once', async (t) => {
  const { base, device } = await httpHalf(t, { copies: 2 })
  const res = await post(`${base}/udp/broadcast`, { ID: 5, wait: '500ms', request: [0x17, 0x94] })
  const body = await res.json() as { ID: number; replies: number[][] }
  assert.equal(body.ID, 5)
  assert.equal(body.replies.length, 2)
  const started = Date.now()
  const quick = await post(`${base}/udp/broadcast`, { ID: 6, wait: '0s', request: [0x17, 0x94, 1] })
  assert.deepEqual(await quick.json(), { ID: 6, replies: [] })
  assert.ok(Date.now() - started < 1000, 'answered at once')
  await device!.waitCount(2)
  assert.deepEqual([...device!.received[1]!.data], [0x17, 0x94, 1])
})

test('error answers are byte for byte what Go\'s http.Error and FileServer send', async (t) => {
  const { base } = await httpHalf(t)
  const expect = async (res: Response, status: number, text: string) => {
    assert.equal(res.status, status)
    assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8')
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff')
    assert.equal(await res.text(), text)
  }
  await expect(await post(`${base}/udp/send`, '{not json'), 400, 'Invalid request body\n')
  await expect(await post(`${base}/udp/send`, { ID: 1, request: [1] }, { 'content-type': 'text/plain' }), 400, 'Invalid request content-type (text/plain)\n')
  await expect(await fetch(`${base}/udp/broadcast`), 405, 'Invalid request\n')
  await expect(await fetch(`${base}/nothing-here.html`), 404, '404 page not found\n')
})
