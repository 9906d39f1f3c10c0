import assert from 'node:assert/strict'
import http2 from 'node:http2'
import https from 'node:https'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startHalf } from '../../mod.ts'
import { runtime } from '#runtime'
import { test, waitFor } from '../harness.ts'
import { testCerts } from '../helpers/certs.ts'
import { half } from '../helpers/halves.ts'
import { rawConnect } from '../helpers/raw-tcp.ts'
import { rawWebSocket } from '../helpers/raw-ws.ts'
import { echoDevice, text, udpPeer } from '../helpers/udp.ts'

// Issue 13 items 2, 3, 5, 6 and 8 as behaviours of one half on this runtime: refusals past the
// limits that the peer can read, hello deadlines on HTTP servers, security headers, static files
// that stay in their folder, errors ending a gRPC call, W_OPEN_SERVER.

const tlsOptions = () => ({ cert: testCerts().pem.serverCert, key: testCerts().pem.serverKey })

function htmlFolder(t: Parameters<typeof half>[0]): string {
  const base = mkdtempSync(join(tmpdir(), 'edgerelay-html-'))
  t.defer(() => rmSync(base, { recursive: true, force: true }))
  const root = join(base, 'html')
  mkdirSync(join(root, 'sub'), { recursive: true })
  writeFileSync(join(root, 'index.html'), '<p>home</p>')
  writeFileSync(join(root, 'sub', 'index.html'), '<p>sub</p>')
  writeFileSync(join(base, 'secret.txt'), 'outside the folder')
  symlinkSync(join(base, 'secret.txt'), join(root, 'leak.txt'))
  symlinkSync(base, join(root, 'up'))
  return root
}

test('static files: a folder without its slash is redirected on this server only, links out of the folder are refused, pages carry a CSP', async (t) => {
  const html = htmlFolder(t)
  const h = await half(t, { in: 'http/127.0.0.1:0', out: 'udp/broadcast:127.0.0.1:9', html })
  const base = `http://127.0.0.1:${h.inAddresses()[0]!.port}`
  for (const path of ['//sub', '/sub', '//evil.example/%2e%2e/sub']) {
    const res = await fetch(base + path, { redirect: 'manual' })
    if (res.status === 301) {
      const location = res.headers.get('location')!
      assert.ok(location.startsWith('/') && !location.startsWith('//'), `${path} → ${location}: a path on this server`)
    }
  }
  const sub = await fetch(`${base}//sub`, { redirect: 'manual' })
  assert.equal(sub.status, 301)
  assert.equal(sub.headers.get('location'), '/sub/')
  const page = await fetch(`${base}/sub/`)
  assert.equal(await page.text(), '<p>sub</p>')
  assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'.*frame-ancestors 'none'/)
  assert.equal(page.headers.get('x-content-type-options'), 'nosniff')
  assert.equal(page.headers.get('x-frame-options'), 'DENY')
  assert.equal(page.headers.get('strict-transport-security'), null, 'no HSTS over plain HTTP')
  assert.equal((await fetch(`${base}/leak.txt`)).status, 404, 'a symbolic link to a file outside')
  assert.equal((await fetch(`${base}/up/secret.txt`)).status, 404, 'a symbolic link to a folder outside')
  assert.equal((await fetch(`${base}/index.html`)).status, 200, 'the control: a real file is served')
})

test('a missing --html folder stops the half at start with E_CONFIG', async () => {
  await assert.rejects(startHalf({ in: 'http/127.0.0.1:0', out: 'udp/broadcast:127.0.0.1:9', html: join(tmpdir(), 'edgerelay-no-such-folder'), runtime, logLevel: 'silent' }),
    (err: Error & { code?: string }) => err.code === 'E_CONFIG' && /--html .* is not a folder/.test(err.message))
})

test('https and wss answers carry HSTS and the usual security headers', async (t) => {
  const https1 = await half(t, { in: 'https/127.0.0.1:0', out: 'udp/broadcast:127.0.0.1:9', tls: tlsOptions() })
  const wss = await half(t, { in: 'ws/server:127.0.0.1:0/tunnel', out: 'udp/broadcast:127.0.0.1:9', tls: tlsOptions() })
  for (const [port, path] of [[https1.inAddresses()[0]!.port, '/healthz'], [wss.inAddresses()[0]!.port, '/nothing-here']] as const) {
    const headers = await new Promise<Record<string, unknown>>((resolve, reject) => {
      https.get({ host: '127.0.0.1', port, path, ca: testCerts().pem.ca, servername: 'localhost' }, (res) => {
        res.resume()
        resolve(res.headers)
      }).on('error', reject)
    })
    assert.match(String(headers['strict-transport-security']), /max-age=31536000/)
    assert.equal(headers['x-content-type-options'], 'nosniff')
    assert.equal(headers['referrer-policy'], 'no-referrer')
  }
})

test('past --max-connections-per-peer a tcp client reads why in the hello refusal; a ws client gets 503 with the reason', async (t) => {
  const device = await echoDevice(t)
  const limits = { maxConnectionsPerPeer: 1 }
  const far = await half(t, { in: 'tcp/server:127.0.0.1:0', out: `udp/broadcast:127.0.0.1:${device.port}`, codec: 'protobuf', limits })
  const port = far.inAddresses()[0]!.port
  const first = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tcp/client:127.0.0.1:${port}`, codec: 'protobuf' })
  await waitFor(() => first.stats.get('tunnel.connected') === 1, 'the first client to connect')
  const second = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tcp/client:127.0.0.1:${port}`, codec: 'protobuf' })
  await waitFor(() => second.lines.find((l) => /server refused the tunnel: too many connections from 127\.0\.0\.1 \(1, the limit set by --max-connections-per-peer\)/.test(l)), 'the refusal in the second client\'s log')
  await waitFor(() => far.lines.find((l) => /refused connection from 127\.0\.0\.1:\d+: too many connections from 127\.0\.0\.1/.test(l)), 'the server to log the peer and the reason')
  assert.ok(far.stats.get('refused.max_connections_per_peer') >= 1)
  // The first one is served all along.
  const client = await udpPeer(t)
  client.send('still here', first.inAddresses()[0]!.port)
  await client.waitCount(1)
  assert.equal(text(client.received[0]!.data), 'reply0:still here')

  const ws = await half(t, { in: 'ws/server:127.0.0.1:0/tunnel', out: 'udp/broadcast:127.0.0.1:9', limits })
  const wsPort = ws.inAddresses()[0]!.port
  // A kept-alive connection the server has surely accepted (it answered), then one more.
  const held = await rawConnect(t, wsPort)
  held.write(new TextEncoder().encode('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'))
  await waitFor(() => held.data().length > 0, 'the kept connection to be answered')
  const refused = await rawWebSocket(t, wsPort, { path: '/tunnel', protocols: ['edgerelay.v1.protobuf'] })
  assert.equal(refused.status, 503)
  assert.equal(refused.headers['x-edgerelay-error'], 'E_LIMIT')
  assert.match(refused.body, /too many connections from 127\.0\.0\.1/)
  held.socket.destroy()
})

test('past --max-grpc-calls a call ends at once with RESOURCE_EXHAUSTED and the reason', async (t) => {
  const far = await half(t, { in: 'grpc/server:127.0.0.1:0', out: 'udp/broadcast:127.0.0.1:9', limits: { maxGrpcCalls: 1 } })
  const session = http2.connect(`http://127.0.0.1:${far.inAddresses()[0]!.port}`)
  t.defer(() => session.destroy())
  session.on('error', () => {})
  const call = () => session.request({ ':method': 'POST', ':path': '/edgerelay.v1.Tunnel/Relay', 'content-type': 'application/grpc', te: 'trailers' })
  const open = call()
  open.on('error', () => {})
  await new Promise((resolve) => open.once('response', resolve))
  const second = call()
  const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => second.once('response', resolve))
  assert.equal(headers['grpc-status'], '8')
  assert.equal(headers['x-edgerelay-error'], 'E_LIMIT')
  assert.match(decodeURIComponent(String(headers['grpc-message'])), /too many gRPC calls \(1, the limit set by --max-grpc-calls\)/)
  open.close()
})

test('an accepted gRPC call that sends bytes that are not frames ends with grpc-status 13 and the reason, not 0', async (t) => {
  const far = await half(t, { in: 'grpc/server:127.0.0.1:0', out: 'udp/broadcast:127.0.0.1:9' })
  const session = http2.connect(`http://127.0.0.1:${far.inAddresses()[0]!.port}`)
  t.defer(() => session.destroy())
  session.on('error', () => {})
  const req = session.request({ ':method': 'POST', ':path': '/edgerelay.v1.Tunnel/Relay', 'content-type': 'application/grpc', te: 'trailers' })
  req.on('error', () => {})
  req.resume()
  const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => req.once('trailers', resolve))
  // A well-formed gRPC message whose body is not a frame, then garbage.
  req.write(new Uint8Array([0, 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff]))
  const t1 = await trailers
  assert.equal(t1['grpc-status'], '13')
  assert.match(decodeURIComponent(String(t1['grpc-message'])), /sent bad data/)
  assert.ok(String(t1['x-edgerelay-error']).startsWith('E_'))
})

test('an HTTP connection that sends no request within --hello-timeout is closed; one that does is served', async (t) => {
  const h = await half(t, { in: 'http/127.0.0.1:0', out: 'udp/broadcast:127.0.0.1:9', helloTimeout: '400ms' })
  const port = h.inAddresses()[0]!.port
  const silent = await rawConnect(t, port)
  const started = Date.now()
  const health = await fetch(`http://127.0.0.1:${port}/healthz`)
  assert.equal(health.status, 200, 'the control: a real request in the same window')
  await silent.closed
  const waited = Date.now() - started
  assert.ok(waited >= 250 && waited < 3000, `closed after ${waited} ms`)
})

test('a server-side uhppoted-tunnel connection that sends nothing for --idle-timeout is closed', async (t) => {
  const far = await half(t, { in: 'tcp/server:127.0.0.1:0', out: 'udp/broadcast:127.0.0.1:9', codec: 'uhppoted', idleTimeout: '1s' })
  const port = far.inAddresses()[0]!.port
  const quiet = await rawConnect(t, port)
  const chatty = await rawConnect(t, port)
  const started = Date.now()
  // The chatty one sends a uhppoted-tunnel frame every 300 ms and stays.
  const timer = setInterval(() => chatty.write(new Uint8Array([0, 1, 0, 0, 0, 1, 0x17])), 300)
  t.defer(() => clearInterval(timer))
  await quiet.closed
  assert.ok(Date.now() - started >= 900, 'not before the idle timeout')
  assert.ok(!chatty.isClosed(), 'a connection that carries something stays')
  assert.ok(far.lines.some((l) => /sent nothing for \d+ ms \(--idle-timeout/.test(l)), far.lines.join('\n'))
})

test('W_OPEN_SERVER: once for a server reachable beyond loopback without --token or --client-auth, never otherwise', async (t) => {
  const open = await half(t, { in: 'tcp/server:0.0.0.0:0', out: 'udp/broadcast:127.0.0.1:9' })
  const warned = open.lines.filter((l) => /W_OPEN_SERVER/.test(l))
  assert.equal(warned.length, 1, open.lines.join('\n'))
  assert.match(warned[0]!, /tcp\/server listens with neither --token nor --client-auth: any host that reaches this one on port \d+ .*every interface.* can send through this half; it also takes uhppoted-tunnel framing, which cannot carry a token/)
  const withToken = await half(t, { in: 'tcp/server:0.0.0.0:0', out: 'udp/broadcast:127.0.0.1:9', token: 'k' })
  const loopback = await half(t, { in: 'ws/server:127.0.0.1:0/t', out: 'udp/broadcast:127.0.0.1:9' })
  assert.ok(!withToken.lines.some((l) => /W_OPEN_SERVER/.test(l)))
  assert.ok(!loopback.lines.some((l) => /W_OPEN_SERVER/.test(l)))
  const api = await half(t, { in: 'http/0.0.0.0:0', out: 'udp/broadcast:127.0.0.1:9', token: 'k' })
  assert.ok(api.lines.some((l) => /W_OPEN_SERVER http listens with no --client-auth \(the HTTP API has no token\)/.test(l)), 'a token does not protect the HTTP API')
})
