/**
 * The dialer plugins against proxies that misbehave (src/net/dialers/): each case a small TCP
 * server on loopback playing the proxy. Every one ends in a clear ProxyError, never a hang or a
 * crash; bytes a server sends right after the proxy's answer reach the tunnel.
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import { runtime } from '#runtime'
import { raceTcp } from '../../src/net/dial.ts'
import { parseProxyUrl } from '../../src/net/dialers/proxy-url.ts'
import { dialThroughProxy } from '../../src/net/dialers/through-proxy.ts'
import type { StreamConn } from '../../src/ports/runtime.ts'
import { test, type TestContext } from '../harness.ts'

/** A one-connection "proxy": `answer` gets each chunk and what has been received so far. */
async function fakeProxy(t: TestContext, answer: (socket: net.Socket, received: Buffer) => void): Promise<number> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    let received = Buffer.alloc(0)
    socket.on('error', () => {})
    sockets.add(socket)
    socket.on('data', (d: Buffer) => {
      received = Buffer.concat([received, d])
      answer(socket, received)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.defer(() => new Promise((r) => server.close(r)))
  t.defer(() => {
    for (const s of sockets) s.destroy()
  })
  return (server.address() as net.AddressInfo).port
}

function dial(url: string, timeoutMs = 3000): Promise<StreamConn> {
  return dialThroughProxy(runtime, {
    text: 'tcp/client:relay.test:9000',
    proxy: parseProxyUrl(url, '--proxy'),
    target: { host: 'relay.test', port: 9000 },
    connect: (addresses, port, signal, text) => raceTcp(runtime, text, addresses, port, { timeoutMs, signal }),
    timeoutMs,
    signal: new AbortController().signal,
  })
}

const rejectsWith = (p: Promise<unknown>, code: string, pattern: RegExp) =>
  assert.rejects(p, (e: Error & { code?: string }) => {
    assert.equal(e.code, code, e.message)
    assert.match(e.message, pattern)
    return true
  })

test('HTTP CONNECT: the request names the target with Host and Basic credentials; bytes the server sent after the 200 reach the next reader first', async (t) => {
  let request = ''
  const port = await fakeProxy(t, (socket, received) => {
    request = received.toString()
    if (request.includes('\r\n\r\n')) socket.write('HTTP/1.1 200 Connection established\r\nVia: test\r\n\r\nSERVER-FIRST')
  })
  const conn = await dial(`http://us%40er:p%3Ass@127.0.0.1:${port}`)
  t.defer(() => conn.destroy())
  assert.match(request, /^CONNECT relay.test:9000 HTTP\/1.1\r\nHost: relay.test:9000\r\n/)
  assert.match(request, new RegExp(`Proxy-Authorization: Basic ${Buffer.from('us@er:p:ss').toString('base64')}\r\n`))
  const first = await new Promise<string>((resolve) => conn.setHandlers({ onData: (d) => resolve(Buffer.from(d).toString()), onClose: () => resolve('closed') }))
  assert.equal(first, 'SERVER-FIRST')
})

test('HTTP CONNECT: garbage, an endless header block, a close and silence are clear errors', async (t) => {
  const garbage = await fakeProxy(t, (socket) => socket.write('SSH-2.0-OpenSSH\r\n\r\n'))
  await rejectsWith(dial(`http://127.0.0.1:${garbage}`), 'E_PROXY_PROTOCOL', /did not answer CONNECT as an HTTP proxy \(first line: 'SSH-2.0-OpenSSH'\)/)
  const endless = await fakeProxy(t, (socket) => socket.write(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(20_000)}`))
  await rejectsWith(dial(`http://127.0.0.1:${endless}`), 'E_PROXY_PROTOCOL', /more than 16384 bytes without ending/)
  const closes = await fakeProxy(t, (socket) => socket.end())
  await rejectsWith(dial(`http://127.0.0.1:${closes}`), 'E_PROXY_CLOSED', /closed the connection.*before it answered/)
  const silent = await fakeProxy(t, () => {})
  await rejectsWith(dial(`http://127.0.0.1:${silent}`, 300), 'E_PROXY_TIMEOUT', /did not open a connection to relay.test:9000 within 300 ms/)
  const ntlm = await fakeProxy(t, (socket) => socket.write('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: NTLM\r\n\r\n'))
  await rejectsWith(dial(`http://u:p@127.0.0.1:${ntlm}`), 'E_PROXY_AUTH', /asks for NTLM authentication, and edgerelay does Basic only/)
  const bad = await fakeProxy(t, (socket) => socket.write('HTTP/1.1 502 Bad Gateway\r\n\r\n'))
  await rejectsWith(dial(`http://127.0.0.1:${bad}`), 'E_PROXY_UPSTREAM', /could not reach relay.test:9000 \(502 Bad Gateway\)/)
})

test('SOCKS5: names go as names with socks5h; a wrong version, an unknown address type and a refusal are clear errors', async (t) => {
  let request: Buffer | undefined
  const ok = await fakeProxy(t, (socket, received) => {
    if (received.length === 3) socket.write(Buffer.from([5, 0]))
    else if (received.length > 3) {
      request = received.subarray(3)
      socket.write(Buffer.from([5, 0, 0, 3, 4, 0x61, 0x62, 0x63, 0x64, 0, 80]))
    }
  })
  const conn = await dial(`socks5h://127.0.0.1:${ok}`)
  conn.destroy()
  assert.deepEqual([...request!], [5, 1, 0, 3, 10, ...Buffer.from('relay.test'), 0x23, 0x28])
  const http = await fakeProxy(t, (socket) => socket.write('HTTP/1.1 400 Bad Request\r\n\r\n'))
  await rejectsWith(dial(`socks5h://127.0.0.1:${http}`), 'E_PROXY_PROTOCOL', /is not a SOCKS5 proxy \(it answered with version 72\)/)
  const oddType = await fakeProxy(t, (socket, received) => socket.write(Buffer.from(received.length === 3 ? [5, 0] : [5, 0, 0, 9])))
  await rejectsWith(dial(`socks5h://127.0.0.1:${oddType}`), 'E_PROXY_PROTOCOL', /unknown address type 9/)
  const refused = await fakeProxy(t, (socket, received) => socket.write(Buffer.from(received.length === 3 ? [5, 0] : [5, 5, 0, 1, 0, 0, 0, 0, 0, 0])))
  await rejectsWith(dial(`socks5h://127.0.0.1:${refused}`), 'E_PROXY_UPSTREAM', /could not connect to relay.test:9000: connection refused \(SOCKS5 reply 5\)/)
  const noMethod = await fakeProxy(t, (socket) => socket.write(Buffer.from([5, 0xff])))
  await rejectsWith(dial(`socks5h://u:p@127.0.0.1:${noMethod}`), 'E_PROXY_AUTH', /accepts neither no authentication nor a user name and password/)
})

test('an unreachable proxy is a connect failure naming the proxy', async () => {
  // A port nothing listens on: bind one, close it.
  const probe = net.createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const port = (probe.address() as net.AddressInfo).port
  await new Promise((r) => probe.close(r))
  await rejectsWith(dial(`socks5://127.0.0.1:${port}`), 'E_CONNECT_FAILED', /tcp\/client:relay.test:9000 via SOCKS5 proxy socks5:\/\/127.0.0.1:\d+: cannot connect: 127.0.0.1:\d+ ECONNREFUSED/)
})
