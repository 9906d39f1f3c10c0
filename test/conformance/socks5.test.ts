/**
 * socks5/listen (RFC 1928, RFC 1929) through real halves on loopback: curl --socks5-hostname and
 * --socks5 (IPv4 and IPv6 literals), python3-socks for UDP ASSOCIATE, far-side failures as their
 * reply codes, credentials, and every malformed field of issue 12's bad-input list, none of which
 * may take the half down or cost another client its stream.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import net from 'node:net'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, waitFor } from '../harness.ts'
import { half } from '../helpers/halves.ts'
import { needPeers } from '../helpers/peers.ts'
import { ROOT, run, startProcess } from '../helpers/processes.ts'
import { PYTHON } from '../helpers/python.ts'
import { proxyHalves, rawProxyExchange, silentPort } from '../helpers/proxies.ts'
import { echoServer, httpServer, sha256, transports } from '../helpers/tcp-streams.ts'
import { echoDevice } from '../helpers/udp.ts'
import { freePort } from '../helpers/free-ports.mjs'
import { encodeAddress } from '../../src/protocol/socks5.ts'
import { toHex } from '../helpers/bytes.mjs'
import type { TestContext } from '../harness.ts'

const GREET = Uint8Array.of(5, 1, 0)
const connectTo = (host: string, port: number, cmd = 1) => Uint8Array.from([5, cmd, 0, ...encodeAddress(host, port)])

/** The reply code a raw client gets for CONNECT to host:port (after a no-auth greeting). */
async function replyFor(port: number, host: string, target: number): Promise<number | undefined> {
  const r = await rawProxyExchange(port, [GREET, connectTo(host, target)], { expect: [2, 10], stopAt: 12, timeoutMs: 8000 })
  return r.bytes.length >= 4 ? r.bytes[3] : undefined
}

async function curl(args: string[]): Promise<{ code: number | string; stdout: string; stderr: string }> {
  needPeers('curl')
  return run(['curl', '-sS', '--max-time', '20', '--noproxy', '', ...args], 25_000)
}

/** An HTTP server on [::1] answering GET /v6 with 'over ipv6'. */
async function http6Server(t: TestContext): Promise<number> {
  const server = http.createServer((_req, res) => res.end('over ipv6'))
  await new Promise<void>((resolve) => server.listen(0, '::1', resolve))
  t.defer(() => {
    server.closeAllConnections?.()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return (server.address() as net.AddressInfo).port
}

for (const tr of transports()) {
  test(`curl --socks5-hostname fetches by a name only the far half resolves; --socks5 by IPv4 and IPv6 literal (${tr.name})`, async (t) => {
    const web = await httpServer(t, 1 << 20)
    const web6 = await http6Server(t)
    const { port, near, far } = await proxyHalves(t, tr, 'socks5/listen:127.0.0.1:0', `127.0.0.1:${web.port},[::1]:${web6}`)
    const dir = mkdtempSync(join(tmpdir(), 'edgerelay-socks-'))
    t.defer(() => rmSync(dir, { recursive: true, force: true }))
    const file = join(dir, 'body')
    const byName = await curl(['--socks5-hostname', `127.0.0.1:${port}`, '-o', file, '-w', '%{http_code}', `http://web.test:${web.port}/body`])
    assert.equal(byName.code, 0, byName.stderr)
    assert.equal(byName.stdout, '200')
    assert.equal(sha256(readFileSync(file)), sha256(web.body))
    const byV4 = await curl(['--socks5', `127.0.0.1:${port}`, '-o', file, '-w', '%{http_code}', `http://127.0.0.1:${web.port}/body`])
    assert.equal(byV4.code, 0, byV4.stderr)
    assert.equal(sha256(readFileSync(file)), sha256(web.body))
    const byV6 = await curl(['--socks5', `127.0.0.1:${port}`, `http://[::1]:${web6}/v6`])
    assert.equal(byV6.code, 0, byV6.stderr)
    assert.equal(byV6.stdout, 'over ipv6')
    assert.equal(near.stats.get('proxy.socks5.opened'), 3)
    await waitFor(() => far.stats.get('streams.closed') === 3, 'the three streams to close on the far half')
  }, { timeout: 40_000 })

  test(`UDP ASSOCIATE with python3-socks: datagrams to an address and a name come back from each; a denied destination is dropped and logged (${tr.name})`, async (t) => {
    needPeers('py:socks')
    const device = await echoDevice(t)
    const { port, far, near } = await proxyHalves(t, tr, 'socks5/listen:127.0.0.1:0', `127.0.0.1:${device.port}`)
    const r = await run([PYTHON, join(ROOT, 'test/interop/socks_udp.py'), String(port), '-', '-', '!denied.test:9', `127.0.0.1:${device.port}`, `web.test:${device.port}`], 20_000)
    const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { replies: [string, string, number][]; error: string | null }
    assert.equal(out.error, null, r.stderr)
    const got = out.replies.map(([text, host, p]) => `${host}:${p} ${text}`).sort()
    const expected = [0, 1, 2].flatMap((i) => [`127.0.0.1:${device.port} reply0:127.0.0.1:${device.port}#${i}`, `web.test:${device.port} reply0:web.test:${device.port}#${i}`]).sort()
    assert.deepEqual(got, expected)
    // The denied datagrams were sent first; the allowed ones after them came back.
    assert.equal(far.stats.get('dropped.datagram_not_allowed'), 3)
    assert.ok(far.lines.some((l) => /refused datagrams to denied\.test:9 .*no --allow entry matches/.test(l)), far.lines.join('\n'))
    assert.ok(!device.answered.some((a) => a.startsWith('denied')))
    assert.equal(near.stats.get('proxy.socks5.udp_associated'), 1)
    // The association ended with its TCP connection: its flows are gone.
    await waitFor(() => near.stats.get('proxy.socks5.udp_associations') === 0, 'the association to end with the python client')
  }, { timeout: 40_000 })
}

test('UDP ASSOCIATE to a far half whose --out is not tcp/dial: the addressed datagrams are dropped there and counted, never sent to its own destination', async (t) => {
  needPeers('py:socks')
  const device = await echoDevice(t)
  const tr = transports()[0]!
  const far = await half(t, { in: tr.server, out: `udp/broadcast:127.0.0.1:${device.port}` })
  const near = await half(t, { in: 'socks5/listen:127.0.0.1:0', out: tr.client(far.inAddresses()[0]!.port) })
  await waitFor(() => near.stats.get('tunnel.connected') >= 1, 'the near half to connect')
  // The client keeps its association open until the far half has counted the drops: closing it
  // ends the association, and datagrams still in the near half's socket would go with it.
  const dir = mkdtempSync(join(tmpdir(), 'edgerelay-socks-udp-'))
  t.defer(() => rmSync(dir, { recursive: true, force: true }))
  const release = join(dir, 'release')
  const client = startProcess(t, [PYTHON, join(ROOT, 'test/interop/socks_udp.py'), String(near.inAddresses()[0]!.port), '-', '-', `!127.0.0.1:${device.port}`], { env: { HOLD_FILE: release } })
  await waitFor(() => far.stats.get('dropped.destination_unsupported') === 3, 'the far half to drop the three datagrams')
  writeFileSync(release, '')
  assert.equal(await client.exited, 0, client.output())
  assert.equal(JSON.parse(client.output().trim().split('\n').pop() ?? '{}').error, null, client.output())
  assert.deepEqual(device.answered, [])
  assert.ok(far.lines.some((l) => /a SOCKS5 UDP association.*runs --out tcp\/dial/.test(l)))
}, { timeout: 30_000 })

for (const tr of transports().filter((x) => x.name === 'tcp' || x.name === 'ws')) {
  test(`far-side failures become SOCKS replies: not allowed 0x02, refused 0x05, unreachable 0x04, timeout 0x06, with the reason logged on both halves (${tr.name})`, async (t) => {
    const web = await httpServer(t, 16)
    const closed = await freePort()
    const silent = await silentPort(t)
    const { port, far, near } = await proxyHalves(t, tr, 'socks5/listen:127.0.0.1:0', `127.0.0.1:${web.port},127.0.0.1:${closed},127.0.0.1:${silent},*.test`, { far: { connectTimeout: '400ms' } })
    assert.equal(await replyFor(port, '127.0.0.1', web.port), 0x00, 'a positive control')
    assert.equal(await replyFor(port, '127.0.0.2', web.port), 0x02)
    assert.equal(await replyFor(port, '127.0.0.1', closed), 0x05)
    assert.equal(await replyFor(port, 'nowhere.test', 80), 0x04)
    assert.equal(await replyFor(port, '127.0.0.1', silent), 0x06)
    assert.ok(far.lines.some((l) => /refused 127\.0\.0\.2:\d+ for 127\.0\.0\.1:\d+: no --allow entry matches/.test(l)), far.lines.join('\n'))
    assert.ok(near.lines.some((l) => /socks5\/listen 127\.0\.0\.1:\d+ → 127\.0\.0\.2:\d+: refused \(not_allowed\):.*no --allow entry matches/.test(l)), near.lines.join('\n'))
    for (const code of ['not_allowed', 'refused', 'unreachable', 'timeout']) assert.equal(near.stats.get(`proxy.socks5.refused.${code}`), 1, code)
    assert.ok(near.lines.some((l) => /→ nowhere\.test:80: refused \(unreachable\)/.test(l)))
  }, { timeout: 30_000 })

  test(`username/password (RFC 1929): curl with the right credentials gets through; wrong ones, or no offer of the method, are refused and counted (${tr.name})`, async (t) => {
    const web = await httpServer(t, 64)
    const { port, near } = await proxyHalves(t, tr, 'socks5/listen:127.0.0.1:0', `127.0.0.1:${web.port}`, { near: { proxyUsers: 'alice:s3cret\nbob:pw:with:colons\n' } })
    const ok = await curl(['--socks5-hostname', `127.0.0.1:${port}`, '--proxy-user', 'bob:pw:with:colons', '-o', '/dev/null', '-w', '%{http_code}', `http://web.test:${web.port}/body`])
    assert.equal(ok.stdout, '200', ok.stderr)
    const wrong = await curl(['--socks5-hostname', `127.0.0.1:${port}`, '--proxy-user', 'alice:guess', `http://web.test:${web.port}/body`])
    assert.notEqual(wrong.code, 0)
    assert.equal(near.stats.get('proxy.socks5.auth_failed'), 1)
    assert.ok(near.lines.some((l) => l.includes("wrong credentials for user 'alice'")))
    assert.ok(!near.lines.some((l) => l.includes('guess')), 'a password never reaches the log')
    const noAuthOnly = await rawProxyExchange(port, [GREET])
    assert.equal(toHex(noAuthOnly.bytes), '05 ff')
    assert.ok(noAuthOnly.closed)
    const raw = await rawProxyExchange(port, [Uint8Array.of(5, 1, 2), Uint8Array.of(1, 5, ...Buffer.from('alice'), 3, ...Buffer.from('bad'))], { expect: [2, 2] })
    assert.equal(toHex(raw.bytes), '05 02 01 01')
    assert.ok(raw.closed)
    assert.equal(near.stats.get('proxy.socks5.auth_failed'), 2)
    assert.equal(near.stats.get('proxy.socks5.opened'), 1)
  }, { timeout: 30_000 })

  test(`malformed SOCKS5 fields are answered as RFC 1928 says (or closed) and counted; BIND gets 0x07; the half serves on (${tr.name})`, async (t) => {
    const web = await httpServer(t, 32)
    const { port, near } = await proxyHalves(t, tr, 'socks5/listen:127.0.0.1:0', `127.0.0.1:${web.port}`)
    const cases: [string, Uint8Array[], string, boolean][] = [
      // [what, bytes sent (each after the previous answer), the answer, counted as a malformed handshake]
      ['version 4 greeting', [Uint8Array.of(4, 1, 0, 80, 127, 0, 0, 1, 0)], '', true],
      ['no methods', [Uint8Array.of(5, 0)], '', true],
      ['no acceptable method', [Uint8Array.of(5, 2, 0x80, 0x03)], '05 ff', true],
      ['request version 4', [GREET, Uint8Array.of(4, 1, 0, 1, 127, 0, 0, 1, 0, 80)], '05 00 05 01 00 01 00 00 00 00 00 00', true],
      ['command 9', [GREET, Uint8Array.of(5, 9, 0, 1, 127, 0, 0, 1, 0, 80)], '05 00 05 07 00 01 00 00 00 00 00 00', true],
      ['address type 7', [GREET, Uint8Array.of(5, 1, 0, 7, 127, 0, 0, 1, 0, 80)], '05 00 05 08 00 01 00 00 00 00 00 00', true],
      ['name length 0', [GREET, Uint8Array.of(5, 1, 0, 3, 0, 0, 80)], '05 00 05 08 00 01 00 00 00 00 00 00', true],
      ['name length 255', [GREET, connectTo('a'.repeat(255), 80)], '05 00 05 08 00 01 00 00 00 00 00 00', true],
      ['a name that is not a host name', [GREET, connectTo('a:b@c', 80)], '05 00 05 08 00 01 00 00 00 00 00 00', true],
      ['BIND', [GREET, connectTo('127.0.0.1', 80, 2)], '05 00 05 07 00 01 00 00 00 00 00 00', false],
    ]
    for (const [what, chunks, answer] of cases) {
      const r = await rawProxyExchange(port, chunks, { expect: [2, 10] })
      assert.equal(toHex(r.bytes), answer, what)
      assert.ok(r.closed, `${what}: closed`)
    }
    // Truncated requests: the client half-closes inside its greeting, its request, its name.
    for (const cut of [Uint8Array.of(5, 2, 0), Uint8Array.of(5, 1, 0, 5, 1, 0, 1, 127, 0), Uint8Array.of(5, 1, 0, 5, 1, 0, 3, 20, 97, 98)]) {
      const r = await rawProxyExchange(port, [cut], { end: true })
      assert.ok(r.closed, `truncated ${toHex(cut)}: closed`)
      assert.ok(r.bytes.length <= 2, 'no reply to a request that never completed')
    }
    assert.equal(near.stats.get('dropped.proxy_handshake'), cases.filter((c) => c[3]).length)
    assert.equal(near.stats.get('proxy.socks5.refused.bind'), 1)
    // Greeting, request and the first bytes of the stream in one write: all of it arrives.
    const pipelined = await rawProxyExchange(port, [Uint8Array.from([...GREET, ...connectTo('127.0.0.1', web.port), ...Buffer.from('GET /body HTTP/1.0\r\n\r\n')])], { timeoutMs: 8000 })
    assert.equal(toHex(pipelined.bytes.subarray(0, 4)), '05 00 05 00')
    assert.match(Buffer.from(pipelined.bytes.subarray(12)).toString('latin1'), /^HTTP\/1\.[01] 200/)
    const after = await curl(['--socks5', `127.0.0.1:${port}`, '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${web.port}/body`])
    assert.equal(after.stdout, '200', after.stderr)
  }, { timeout: 30_000 })

  test(`a client that stalls in the handshake is dropped at --hello-timeout and counted, while another is served in the same window (${tr.name})`, async (t) => {
    const web = await httpServer(t, 32)
    const { port, near } = await proxyHalves(t, tr, 'socks5/listen:127.0.0.1:0', `127.0.0.1:${web.port}`, { near: { helloTimeout: '600ms' } })
    const started = Date.now()
    const stalled = [rawProxyExchange(port, [Uint8Array.of(5)], { timeoutMs: 5000 }), rawProxyExchange(port, [GREET, Uint8Array.of(5, 1, 0, 1)], { expect: [2], timeoutMs: 5000 })]
    const served = await curl(['--socks5', `127.0.0.1:${port}`, '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${web.port}/body`])
    assert.equal(served.stdout, '200', served.stderr)
    const [a, b] = await Promise.all(stalled)
    assert.ok(a.closed && b.closed, 'both stalled clients were closed by the half')
    assert.ok(Date.now() - started < 4000)
    assert.equal(toHex(b.bytes), '05 00')
    assert.equal(near.stats.get('dropped.proxy_handshake_timeout'), 2)
  }, { timeout: 20_000 })
}

test('past the far half\'s --max-streams a CONNECT is answered 0x01 (SOCKS5) and 503 (HTTP) while the open stream goes on', async (t) => {
  const echo = await echoServer(t)
  const tr = transports()[0]!
  const far = await half(t, { in: tr.server, out: 'tcp/dial', allow: `127.0.0.1:${echo.port}`, maxStreams: 1 })
  const near = await half(t, { in: ['socks5/listen:127.0.0.1:0', 'http-proxy/listen:127.0.0.1:0'], out: tr.client(far.inAddresses()[0]!.port) })
  await waitFor(() => near.stats.get('tunnel.connected') >= 1, 'the near half to connect')
  const [socks, httpPort] = near.inAddresses().map((a) => a.port)
  const held = net.connect({ port: socks!, host: '127.0.0.1' })
  t.defer(() => held.destroy())
  const heldGot: Buffer[] = []
  held.on('data', (d: Buffer) => heldGot.push(d))
  held.write(Uint8Array.from([...GREET, ...connectTo('127.0.0.1', echo.port)]))
  await waitFor(() => Buffer.concat(heldGot).length >= 12, 'the first stream to open')
  assert.equal(await replyFor(socks!, '127.0.0.1', echo.port), 0x01)
  const r = await rawProxyExchange(httpPort!, [Buffer.from(`CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\n\r\n`)], { stopAt: 12 })
  assert.match(Buffer.from(r.bytes).toString('latin1'), /^HTTP\/1\.1 503 /)
  assert.equal(near.stats.get('proxy.socks5.refused.too_many'), 1)
  held.write('still here')
  await waitFor(() => Buffer.concat(heldGot).subarray(12).toString() === 'still here', 'the open stream to echo')
}, { timeout: 20_000 })

test('a proxy listener others can reach refuses to start without credentials unless ,noauth; loopback needs none; one half can be the whole proxy', async (t) => {
  const web = await httpServer(t, 8)
  const common = { out: 'tcp/dial', allow: `127.0.0.1:${web.port}` }
  for (const listener of ['socks5/listen:0.0.0.0:0', 'http-proxy/listen:[::]:0', 'socks5/listen:*:0']) {
    await assert.rejects(half(t, { in: listener, ...common }), /where others can reach it, and has no credentials: give --proxy-users <file>.*or add ,noauth/)
  }
  const open = await half(t, { in: 'socks5/listen:0.0.0.0:0,noauth', ...common })
  assert.ok(open.lines.some((l) => l.includes('no authentication (,noauth)')))
  await open.close()
  const locked = await half(t, { in: 'http-proxy/listen:0.0.0.0:0', ...common, proxyUsers: 'a:b' })
  assert.ok(locked.lines.some((l) => l.includes('1 user (--proxy-users)')))
  await locked.close()
  await assert.rejects(half(t, { in: 'socks5/listen:127.0.0.1:0,to=x:1', ...common }), /unknown option ',to' for socks5\/listen \(it takes ,ipv6only ,noauth\)/)
  await assert.rejects(half(t, { in: 'socks5/listen:127.0.0.1:0', out: 'udp/broadcast:127.0.0.1:9' }), /does not carry TCP streams/)
  // No tunnel: socks5/listen straight into tcp/dial, through the rate limit and --debug wrappers (they keep the streams).
  const alone = await half(t, { in: 'socks5/listen:127.0.0.1:0', ...common, rateLimit: { perSecond: 100, burst: 10 }, dumpPackets: true })
  const port = alone.inAddresses()[0]!.port
  const r = await curl(['--socks5', `127.0.0.1:${port}`, `http://127.0.0.1:${web.port}/body`, '-o', '/dev/null', '-w', '%{http_code}'])
  assert.equal(r.stdout, '200', r.stderr)
}, { timeout: 20_000 })
