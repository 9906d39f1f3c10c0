/**
 * TCP streams through two real halves on loopback (docs/wire-protocol.md#tcp-streams), over every
 * tunnel transport: tcp/listen → tunnel → tcp/connect or tcp/dial, with real sockets, curl and a
 * greeting echo server standing in for ssh.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, waitFor } from '../harness.ts'
import { half } from '../helpers/halves.ts'
import { needPeers } from '../helpers/peers.ts'
import { run } from '../helpers/processes.ts'
import { echoServer, exchange, httpServer, pattern, sha256, streamHalves, transports } from '../helpers/tcp-streams.ts'
import { rawConnect } from '../helpers/raw-tcp.ts'
import { concat } from '../helpers/bytes.mjs'
import { INITIAL_WINDOW } from '../../src/core/streams/flow-control.ts'
import { Kind } from '../../src/protocol/frame.ts'
import { encodeClientHello } from '../../src/protocol/hello.ts'
import { wireFor } from '../../src/protocol/wire-for.ts'

for (const tr of transports()) {
  test(`ssh-like: the server greets first, then 1 MiB is echoed and both FINs pass (${tr.name})`, async (t) => {
    const echo = await echoServer(t, { banner: 'SSH-2.0-test\r\n' })
    const { port, far, near } = await streamHalves(t, tr, `tcp/connect:127.0.0.1:${echo.port}`)
    const data = pattern(1 << 20)
    const got = await exchange(port, data)
    assert.equal(got.subarray(0, 14).toString(), 'SSH-2.0-test\r\n')
    assert.equal(sha256(got.subarray(14)), sha256(data))
    await waitFor(() => far.stats.get('streams.closed') === 1 && near.stats.get('streams.closed') === 1, 'the stream to close on both halves')
    assert.deepEqual(echo.endings, ['end'])
  }, { timeout: 30_000 })

  test(`curl fetches 4 MB from an HTTP server behind the far half through tcp/listen (${tr.name})`, async (t) => {
    needPeers('curl')
    const web = await httpServer(t, 4 << 20)
    const { port } = await streamHalves(t, tr, `tcp/connect:127.0.0.1:${web.port}`)
    const dir = mkdtempSync(join(tmpdir(), 'edgerelay-curl-'))
    t.defer(() => rmSync(dir, { recursive: true, force: true }))
    const file = join(dir, 'body')
    const res = await run(['curl', '-sS', '--max-time', '20', '-o', file, '-w', '%{http_code}', `http://127.0.0.1:${port}/body`], 25_000)
    assert.equal(res.code, 0, res.stderr)
    assert.equal(res.stdout, '200')
    assert.equal(sha256(readFileSync(file)), sha256(web.body))
  }, { timeout: 30_000 })
}

test('half-close both ways: the client ends first and still receives; the server ends first and still receives', async (t) => {
  // A server that answers only after the client's FIN (like `wc`), then a server that ends first and keeps reading.
  const counted = await new Promise<number>((resolve) => {
    const srv = net.createServer({ allowHalfOpen: true }, (s) => {
      let n = 0
      s.on('data', (d) => (n += d.length))
      s.on('end', () => s.end(`count=${n}`))
    })
    srv.listen(0, '127.0.0.1', () => resolve((srv.address() as net.AddressInfo).port))
    t.defer(() => new Promise<void>((r) => srv.close(() => r())))
  })
  const a = await streamHalves(t, transports()[0]!, `tcp/connect:127.0.0.1:${counted}`)
  const got = await exchange(a.port, pattern(300_000))
  assert.equal(got.toString(), 'count=300000')

  let serverGot = 0
  let serverDone!: (n: number) => void
  const serverTotal = new Promise<number>((resolve) => (serverDone = resolve))
  const early = await new Promise<number>((resolve) => {
    const srv = net.createServer({ allowHalfOpen: true }, (s) => {
      s.end('bye') // FIN first, then keep reading what the client still sends
      s.on('data', (d) => (serverGot += d.length))
      s.on('end', () => serverDone(serverGot))
    })
    srv.listen(0, '127.0.0.1', () => resolve((srv.address() as net.AddressInfo).port))
    t.defer(() => new Promise<void>((r) => srv.close(() => r())))
  })
  const b = await streamHalves(t, transports()[0]!, `tcp/connect:127.0.0.1:${early}`)
  const client = net.connect({ port: b.port, host: '127.0.0.1', allowHalfOpen: true })
  const fromServer: Buffer[] = []
  client.on('data', (d: Buffer) => fromServer.push(d))
  await new Promise<void>((resolve) => client.on('end', resolve))
  assert.equal(Buffer.concat(fromServer).toString(), 'bye')
  // The server's FIN arrived; the client's direction is still open.
  client.write(pattern(200_000))
  client.end()
  assert.equal(await serverTotal, 200_000)
  client.destroy()
})

test("a client's reset reaches the destination as a reset, and the destination's reset reaches the client", async (t) => {
  const echo = await echoServer(t)
  const { port, far } = await streamHalves(t, transports()[0]!, `tcp/connect:127.0.0.1:${echo.port}`)
  const c = net.connect({ port, host: '127.0.0.1' })
  await new Promise<void>((resolve) => c.once('connect', resolve))
  c.write('x')
  await new Promise<void>((resolve) => c.once('data', () => resolve()))
  c.resetAndDestroy()
  await waitFor(() => echo.endings.length === 1, 'the destination to see the end')
  assert.equal(echo.endings[0], 'ECONNRESET')
  await waitFor(() => far.stats.get('streams.reset.reset') === 1, 'the far half to count the reset')

  // The other way: a destination that resets at once.
  const rst = await new Promise<number>((resolve) => {
    const srv = net.createServer((s) => s.once('data', () => s.resetAndDestroy()))
    srv.listen(0, '127.0.0.1', () => resolve((srv.address() as net.AddressInfo).port))
    t.defer(() => new Promise<void>((r) => srv.close(() => r())))
  })
  const b = await streamHalves(t, transports()[0]!, `tcp/connect:127.0.0.1:${rst}`)
  const d = net.connect({ port: b.port, host: '127.0.0.1' })
  d.write('go')
  const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    d.on('error', resolve)
    d.on('close', () => resolve(undefined))
  })
  assert.equal(err?.code, 'ECONNRESET')
})

test('200 concurrent streams each echo 64 KiB intact on one tunnel connection', async (t) => {
  const echo = await echoServer(t)
  const { port, far } = await streamHalves(t, transports()[0]!, `tcp/connect:127.0.0.1:${echo.port}`)
  const results = await Promise.all(Array.from({ length: 200 }, (_, i) => {
    const data = pattern(65_536, i + 1)
    return exchange(port, data, { timeoutMs: 30_000 }).then((got) => sha256(got) === sha256(data))
  }))
  assert.equal(results.filter(Boolean).length, 200)
  assert.equal(far.stats.get('tunnel.accepted'), 1)
  assert.ok(far.stats.get('streams.active_peak') > 1)
}, { timeout: 45_000 })

test('reverse direction: the far half dials out (tcp/client → tcp/connect), the near half listens (tcp/listen → tcp/server)', async (t) => {
  const echo = await echoServer(t)
  const near = await half(t, { in: 'tcp/listen:127.0.0.1:0', out: 'tcp/server:127.0.0.1:0' })
  const far = await half(t, { in: `tcp/client:127.0.0.1:${near.outAddresses()[0]!.port}`, out: `tcp/connect:127.0.0.1:${echo.port}` })
  await waitFor(() => far.stats.get('tunnel.connected') === 1, 'the far half to connect')
  const data = pattern(500_000)
  assert.equal(sha256(await exchange(near.inAddresses()[0]!.port, data)), sha256(data))
})

test('a middle hop passes streams through: tcp/listen → tcp/client | tcp/server → ws/client | ws/server → tcp/connect', async (t) => {
  const echo = await echoServer(t)
  const far = await half(t, { in: 'ws/server:127.0.0.1:0/hop', out: `tcp/connect:127.0.0.1:${echo.port}` })
  const mid = await half(t, { in: 'tcp/server:127.0.0.1:0', out: `ws/client:ws://127.0.0.1:${far.inAddresses()[0]!.port}/hop` })
  const near = await half(t, { in: 'tcp/listen:127.0.0.1:0', out: `tcp/client:127.0.0.1:${mid.inAddresses()[0]!.port}` })
  await waitFor(() => near.stats.get('tunnel.connected') === 1 && mid.stats.get('tunnel.connected') === 1, 'both tunnels to connect')
  const data = pattern(1 << 20)
  assert.equal(sha256(await exchange(near.inAddresses()[0]!.port, data)), sha256(data))
  assert.equal(mid.stats.get('streams.accepted'), 1)
})

test('connections=4 spreads streams over four tunnel connections', async (t) => {
  const echo = await echoServer(t)
  const far = await half(t, { in: 'tcp/server:127.0.0.1:0', out: `tcp/connect:127.0.0.1:${echo.port}` })
  const near = await half(t, { in: 'tcp/listen:127.0.0.1:0', out: `tcp/client:127.0.0.1:${far.inAddresses()[0]!.port},connections=4` })
  await waitFor(() => near.stats.get('tunnel.connected') === 4, 'four connections')
  const port = near.inAddresses()[0]!.port
  const ok = await Promise.all(Array.from({ length: 16 }, (_, i) => exchange(port, pattern(100_000, i)).then((g) => sha256(g) === sha256(pattern(100_000, i)))))
  assert.equal(ok.filter(Boolean).length, 16)
  const peers = new Set(far.lines.filter((l) => l.includes('streams opened')).map((l) => /stream \d+ on (\S+)\)/.exec(l)?.[1]))
  assert.ok(peers.size >= 2, `streams went over ${peers.size} connection(s): ${[...peers].join(', ')}`)
})

test('tcp/dial: the near half names the destination (to=), the far half dials it within --allow and refuses the rest, logging entry and destination', async (t) => {
  const echo = await echoServer(t)
  const other = await echoServer(t)
  const far = await half(t, { in: 'tcp/server:127.0.0.1:0', out: 'tcp/dial', allow: `127.0.0.1:${echo.port},localhost:${other.port}` })
  const farPort = far.inAddresses()[0]!.port
  const allowed = await half(t, { in: `tcp/listen:127.0.0.1:0,to=127.0.0.1:${echo.port}`, out: `tcp/client:127.0.0.1:${farPort}` })
  const data = pattern(200_000)
  assert.equal(sha256(await exchange(allowed.inAddresses()[0]!.port, data)), sha256(data))

  // Not in the list: refused, the client's connection reset, the refusal logged with the entry.
  const denied = await half(t, { in: `tcp/listen:127.0.0.1:0,to=127.0.0.1:${other.port}`, out: `tcp/client:127.0.0.1:${farPort}` })
  await assert.rejects(exchange(denied.inAddresses()[0]!.port, pattern(10)), (err: NodeJS.ErrnoException) => err.code === 'ECONNRESET')
  await waitFor(() => far.lines.some((l) => l.includes(`refused 127.0.0.1:${other.port}`) && l.includes('no --allow entry matches')), 'the refusal in the far log')
  await waitFor(() => denied.lines.some((l) => l.includes('refused (not_allowed)')), 'the refusal in the near log')
  assert.equal(other.accepted, 0)

  // A name allowed by a name entry that resolves to loopback: refused (only an address entry leads there).
  const byName = await half(t, { in: `tcp/listen:127.0.0.1:0,to=localhost:${other.port}`, out: `tcp/client:127.0.0.1:${farPort}` })
  await assert.rejects(exchange(byName.inAddresses()[0]!.port, pattern(10)), (err: NodeJS.ErrnoException) => err.code === 'ECONNRESET')
  await waitFor(() => far.lines.some((l) => l.includes(`refused localhost:${other.port}`) && l.includes('loopback')), 'the loopback refusal in the far log')
  assert.equal(other.accepted, 0)
  assert.ok(far.stats.get('streams.not_allowed') >= 2)
})

test('names are resolved where the connection is made, and bind= applies: tcp/connect:localhost with bind=127.0.0.2, tcp/dial with bind=127.0.0.3', async (t) => {
  const peers: string[] = []
  const port = await new Promise<number>((resolve) => {
    const srv = net.createServer({ allowHalfOpen: true }, (s) => {
      peers.push(s.remoteAddress ?? '')
      s.on('data', (d) => s.write(d))
      s.on('end', () => s.end())
    })
    srv.listen(0, '127.0.0.1', () => resolve((srv.address() as net.AddressInfo).port))
    t.defer(() => new Promise<void>((r) => srv.close(() => r())))
  })
  const a = await streamHalves(t, transports()[0]!, `tcp/connect:localhost:${port},bind=127.0.0.2`, undefined, { far: { family: 4 } })
  assert.equal((await exchange(a.port, pattern(1000))).length, 1000)
  const far = await half(t, { in: 'tcp/server:127.0.0.1:0', out: 'tcp/dial,bind=127.0.0.3', allow: `127.0.0.1:${port}` })
  const near = await half(t, { in: `tcp/listen:127.0.0.1:0,to=127.0.0.1:${port}`, out: `tcp/client:127.0.0.1:${far.inAddresses()[0]!.port}` })
  assert.equal((await exchange(near.inAddresses()[0]!.port, pattern(1000))).length, 1000)
  assert.deepEqual(peers, ['127.0.0.2', '127.0.0.3'])
})

test('tcp/dial without --allow refuses to start and says why; --allow * starts with a warning', async (t) => {
  await assert.rejects(half(t, { in: 'tcp/server:127.0.0.1:0', out: 'tcp/dial' }), (err: Error & { code?: string }) => err.code === 'E_CONFIG' && /needs --allow/.test(err.message))
  const open = await half(t, { in: 'tcp/server:127.0.0.1:0', out: 'tcp/dial', allow: '*' })
  assert.ok(open.lines.some((l) => /WARN.*lets the other half reach any destination/.test(l)))
  await assert.rejects(half(t, { in: 'tcp/server:127.0.0.1:0', out: 'tcp/dial', allow: '10.0.0.0/33:22' }), /prefix length/)
})

test('streams need a stream --out and flow ids: udp/broadcast far halves refuse them as unsupported, --codec uhppoted refuses to start', async (t) => {
  const far = await half(t, { in: 'tcp/server:127.0.0.1:0', out: 'udp/broadcast:127.0.0.1:9' })
  const near = await half(t, { in: 'tcp/listen:127.0.0.1:0', out: `tcp/client:127.0.0.1:${far.inAddresses()[0]!.port}` })
  await waitFor(() => near.stats.get('tunnel.connected') === 1, 'the tunnel')
  await assert.rejects(exchange(near.inAddresses()[0]!.port, pattern(10)), (err: NodeJS.ErrnoException) => err.code === 'ECONNRESET')
  await waitFor(() => near.lines.some((l) => /refused \(unsupported\).*does not carry TCP streams/.test(l)), 'the refusal, with its reason, in the near log')
  await assert.rejects(half(t, { in: 'tcp/listen:127.0.0.1:0', out: 'tcp/client:127.0.0.1:9', codec: 'uhppoted' }), /uhppoted-tunnel framing/)
  await assert.rejects(half(t, { in: 'tcp/listen:127.0.0.1:0', out: 'udp/broadcast:127.0.0.1:9' }), /does not carry TCP streams/)
  await assert.rejects(half(t, { in: 'udp/listen:127.0.0.1:0', out: 'tcp/connect:127.0.0.1:9' }), /carries datagrams/)
})

test('a reader that never reads holds back only its own stream: the others finish, and what the idle one took stays bounded', async (t) => {
  // The destination floods every connection with 64 MiB; one client never reads.
  const flood = pattern(1 << 20)
  let pushed = 0
  const sources = new Set<net.Socket>()
  const srvPort = await new Promise<number>((resolve) => {
    const srv = net.createServer((s) => {
      sources.add(s)
      s.on('error', () => {})
      let left = 64
      const more = () => {
        while (left > 0) {
          left--
          pushed += flood.length
          if (!s.write(flood)) return s.once('drain', more)
        }
        s.end()
      }
      more()
    })
    srv.listen(0, '127.0.0.1', () => resolve((srv.address() as net.AddressInfo).port))
    t.defer(() => {
      for (const s of sources) s.destroy()
      return new Promise<void>((r) => srv.close(() => r()))
    })
  })
  const { port } = await streamHalves(t, transports()[0]!, `tcp/connect:127.0.0.1:${srvPort}`)
  const idle = net.connect({ port, host: '127.0.0.1' })
  idle.pause()
  t.defer(() => idle.destroy())
  await waitFor(() => sources.size === 1, 'the idle stream to reach the destination')
  // A second stream that reads: gets its whole 64 MiB while the first sits.
  const got = await new Promise<number>((resolve, reject) => {
    const c = net.connect({ port, host: '127.0.0.1' })
    let n = 0
    c.on('data', (d) => (n += d.length))
    c.on('end', () => resolve(n))
    c.on('error', reject)
  })
  assert.equal(got, 64 << 20)
  // The idle stream's destination could hand over only what the kernels' buffers, the stream's
  // window and the small user-space buffers hold: far below its 64 MiB.
  const idleSource = [...sources][0]!
  const delivered = idleSource.bytesWritten - idleSource.writableLength
  assert.ok(delivered < 24 << 20, `the idle stream took ${delivered} bytes`)
  assert.ok(pushed > 0)
}, { timeout: 60_000 })

test('a flood of opens past --max-streams from a raw peer: the excess is refused at once and counted, the half stays up, and a real stream still works', async (t) => {
  const echo = await echoServer(t)
  const far = await half(t, { in: 'tcp/server:127.0.0.1:0', out: `tcp/connect:127.0.0.1:${echo.port}`, maxStreams: 50 })
  const farPort = far.inAddresses()[0]!.port
  const raw = await rawConnect(t, farPort)
  const wire = wireFor('protobuf')
  const frames: Uint8Array[] = [encodeClientHello({ codec: 'protobuf' })]
  for (let i = 0; i < 2000; i++) frames.push(wire.encode({ flow: 2 * i + 1, id: INITIAL_WINDOW, kind: Kind.open, payload: new Uint8Array(0) }))
  // DATA for a stream never opened, and a window update for one that is not open.
  frames.push(wire.encode({ flow: 99_999, id: 0, kind: Kind.data, payload: new Uint8Array([1]) }))
  await raw.deliver(concat(frames))
  await waitFor(() => far.stats.get('dropped.stream_limit') === 1950, 'the refusals to be counted')
  assert.equal(far.stats.get('streams.incoming'), 50)
  await waitFor(() => far.stats.get('dropped.stream_unknown') === 1, 'the data for an unknown stream to be counted')
  assert.equal(raw.isClosed(), false, 'the flooding connection itself stays up')
  const near = await half(t, { in: 'tcp/listen:127.0.0.1:0', out: `tcp/client:127.0.0.1:${farPort}` })
  const data = pattern(100_000)
  assert.equal(sha256(await exchange(near.inAddresses()[0]!.port, data)), sha256(data))
})
