/**
 * http-proxy/listen (HTTP CONNECT) through real halves on loopback: curl -x for HTTPS to a local
 * TLS server whose name only the far half resolves, Basic proxy credentials, far-side failures as
 * 403/502/504, and malformed request lines and headers, a stalled head: answered, counted, and the
 * half serves on.
 */
import assert from 'node:assert/strict'
import { test } from '../harness.ts'
import type { TestContext } from '../harness.ts'
import { testCerts } from '../helpers/certs.ts'
import { freePort } from '../helpers/free-ports.mjs'
import { needPeers } from '../helpers/peers.ts'
import { run } from '../helpers/processes.ts'
import { proxyHalves, rawProxyExchange, silentPort } from '../helpers/proxies.ts'
import { echoServer, httpServer, sha256, transports } from '../helpers/tcp-streams.ts'

/** An HTTPS server (the test CA's localhost certificate) on 127.0.0.1 answering GET /body with `size` bytes. */
const httpsServer = (t: TestContext, size: number) => httpServer(t, size, { tls: { cert: testCerts().pem.serverCert, key: testCerts().pem.serverKey } })

/** curl through the proxy: stdout is the body (or -w output), never a proxy from the environment. */
function curl(proxyPort: number, args: string[]) {
  needPeers('curl')
  return run(['curl', '-sS', '--max-time', '20', '--noproxy', '', '-x', `http://127.0.0.1:${proxyPort}`, '--cacert', testCerts().files.ca, ...args], 25_000)
}

const ascii = (s: string) => Uint8Array.from(Buffer.from(s, 'latin1'))
const text = (b: Uint8Array) => Buffer.from(b).toString('latin1')
/** The status line of what a raw client got. */
const statusOf = (b: Uint8Array) => /^HTTP\/1\.1 (\d{3})/.exec(text(b))?.[1]

for (const tr of transports()) {
  test(`curl -x fetches HTTPS through CONNECT, to a name only the far half resolves, checked against the test CA (${tr.name})`, async (t) => {
    const web = await httpsServer(t, 1 << 20)
    const { port, near, far } = await proxyHalves(t, tr, 'http-proxy/listen:127.0.0.1:0', `127.0.0.1:${web.port}`)
    const r = await run(['sh', '-c', `curl -sS --max-time 20 --noproxy '' -x http://127.0.0.1:${port} --cacert ${testCerts().files.ca} https://localhost:${web.port}/body | sha256sum`], 25_000)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout.split(' ')[0], sha256(web.body))
    assert.equal(near.stats.get('proxy.http-proxy.opened'), 1)
    assert.equal(far.stats.get('streams.dialled'), 1)
  }, { timeout: 30_000 })
}

for (const tr of transports().filter((x) => x.name === 'tcp' || x.name === 'ws')) {
  test(`far-side failures become HTTP statuses: not allowed 403, refused 502, unreachable 502, timeout 504, logged on both halves (${tr.name})`, async (t) => {
    const web = await httpsServer(t, 16)
    const closed = await freePort()
    const silent = await silentPort(t)
    const { port, near, far } = await proxyHalves(t, tr, 'http-proxy/listen:127.0.0.1:0', `127.0.0.1:${web.port},127.0.0.1:${closed},127.0.0.1:${silent},*.test`, { far: { connectTimeout: '400ms' } })
    const status = async (authority: string) => {
      const r = await rawProxyExchange(port, [ascii(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`)], { stopAt: 12, timeoutMs: 8000 })
      return statusOf(r.bytes)
    }
    assert.equal(await status(`localhost:${web.port}`), '200', 'a positive control')
    assert.equal(await status(`127.0.0.2:${web.port}`), '403')
    assert.equal(await status(`127.0.0.1:${closed}`), '502')
    assert.equal(await status('nowhere.test:443'), '502')
    assert.equal(await status(`127.0.0.1:${silent}`), '504')
    const denied = await rawProxyExchange(port, [ascii(`CONNECT 127.0.0.2:${web.port} HTTP/1.1\r\n\r\n`)])
    assert.match(text(denied.bytes), /\r\n\r\nthe destination is not allowed \(127\.0\.0\.2:\d+\)\n$/)
    assert.doesNotMatch(text(denied.bytes), /--allow/, 'the client does not learn the far half\'s configuration')
    assert.ok(denied.closed)
    assert.ok(far.lines.some((l) => /refused 127\.0\.0\.2:\d+ for 127\.0\.0\.1:\d+: no --allow entry matches/.test(l)), far.lines.join('\n'))
    assert.ok(near.lines.some((l) => /http-proxy\/listen 127\.0\.0\.1:\d+ → 127\.0\.0\.2:\d+: refused \(not_allowed\):.*no --allow entry matches/.test(l)))
    for (const [code, n] of [['not_allowed', 2], ['refused', 1], ['unreachable', 1], ['timeout', 1]] as const) assert.equal(near.stats.get(`proxy.http-proxy.refused.${code}`), n, code)
  }, { timeout: 30_000 })

  test(`Basic proxy credentials: 407 without them, 407 and counted with wrong ones, through with the right ones (${tr.name})`, async (t) => {
    const web = await httpsServer(t, 100)
    const { port, near } = await proxyHalves(t, tr, 'http-proxy/listen:127.0.0.1:0', `127.0.0.1:${web.port}`, { near: { proxyUsers: 'alice:s3cret\n' } })
    const url = `https://localhost:${web.port}/body`
    const none = await curl(port, ['-o', '/dev/null', '-w', '%{http_code}', url])
    assert.notEqual(none.code, 0)
    assert.match(none.stderr, /407/)
    const wrong = await curl(port, ['--proxy-user', 'alice:nope', url])
    assert.notEqual(wrong.code, 0)
    const right = await curl(port, ['--proxy-user', 'alice:s3cret', '-o', '/dev/null', '-w', '%{http_code}', url])
    assert.equal(right.stdout, '200', right.stderr)
    const raw = await rawProxyExchange(port, [ascii(`CONNECT localhost:${web.port} HTTP/1.1\r\n\r\n`)])
    assert.match(text(raw.bytes), /^HTTP\/1\.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="edgerelay"/)
    const bearer = await rawProxyExchange(port, [ascii(`CONNECT localhost:${web.port} HTTP/1.1\r\nProxy-Authorization: Bearer x\r\n\r\n`)])
    assert.equal(statusOf(bearer.bytes), '407')
    assert.equal(near.stats.get('proxy.http-proxy.auth_failed'), 1)
    assert.ok(near.lines.some((l) => l.includes("wrong credentials for user 'alice'")))
    assert.ok(!near.lines.some((l) => l.includes('nope')))
    assert.equal(near.stats.get('proxy.http-proxy.opened'), 1)
  }, { timeout: 30_000 })

  test(`malformed CONNECT lines and headers get 400/405/431 and are counted; a stalled head is dropped at --hello-timeout; the half serves on (${tr.name})`, async (t) => {
    const web = await httpsServer(t, 64)
    const echo = await echoServer(t)
    const { port, near } = await proxyHalves(t, tr, 'http-proxy/listen:127.0.0.1:0', `127.0.0.1:${web.port},127.0.0.1:${echo.port}`, { near: { helloTimeout: '600ms' } })
    const cases: [string, string][] = [
      ['GET http://localhost/ HTTP/1.1\r\nHost: localhost\r\n\r\n', '405'],
      ['CONNECT localhost HTTP/1.1\r\n\r\n', '400'],
      ['CONNECT localhost:0 HTTP/1.1\r\n\r\n', '400'],
      ['CONNECT user@localhost:443 HTTP/1.1\r\n\r\n', '400'],
      ['CONNECT localhost:443 HTTP/9.9\r\n\r\n', '400'],
      ['CONNECT localhost:443 HTTP/1.1\r\nno-colon\r\n\r\n', '400'],
      ['CONNECT localhost:443 HTTP/1.1\r\nX: a\r\n  folded\r\n\r\n', '400'],
      ['CONNECT localhost:443 HTTP/1.1\r\nX: \x01\r\n\r\n', '400'],
      [`CONNECT localhost:443 HTTP/1.1\r\nX: ${'a'.repeat(9000)}\r\n\r\n`, '431'],
      ['\x05\x01\x00', '400'],
    ]
    for (const [head, expected] of cases) {
      const r = await rawProxyExchange(port, [ascii(head)])
      assert.equal(statusOf(r.bytes), expected, JSON.stringify(head.slice(0, 60)))
      assert.ok(r.closed)
    }
    assert.equal(near.stats.get('dropped.proxy_handshake'), cases.length)
    const stalled = rawProxyExchange(port, [ascii('CONNECT localhost:')], { timeoutMs: 5000 })
    const served = await curl(port, ['-o', '/dev/null', '-w', '%{http_code}', `https://localhost:${web.port}/body`])
    assert.equal(served.stdout, '200', served.stderr)
    const s = await stalled
    assert.ok(s.closed)
    assert.equal(s.bytes.length, 0)
    assert.equal(near.stats.get('dropped.proxy_handshake_timeout'), 1)
    // A client may send its first tunnel bytes with the head, before the answer: they arrive.
    const early = await rawProxyExchange(port, [ascii(`CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\n\r\nhello`)], { stopAt: 44 })
    assert.equal(text(early.bytes), 'HTTP/1.1 200 Connection established\r\n\r\nhello')
  }, { timeout: 30_000 })
}
