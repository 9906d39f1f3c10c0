/**
 * TCP adapter conformance on every runtime (all three use node:net today), with real sockets on
 * 127.0.0.1 and ::1 only.
 */
import assert from 'node:assert/strict'
import { runtime as defaultRuntime } from '#runtime'
import type { Family, StreamConn, StreamListener } from '../../src/ports/runtime.ts'
import { errnoOf } from '../../src/base/errors.ts'
import { test, waitFor, type TestContext } from '../harness.ts'

const LOOPBACK: Record<Family, string> = { 4: '127.0.0.1', 6: '::1' }

interface Collected {
  chunks: Uint8Array[]
  closes: (Error | undefined)[]
  text(): string
}

/** Attaches handlers that copy every chunk and record every onClose call. */
function collect(conn: StreamConn): Collected {
  const c: Collected = {
    chunks: [],
    closes: [],
    text: () => c.chunks.map((b) => new TextDecoder().decode(b)).join(''),
  }
  conn.setHandlers({ onData: (chunk) => c.chunks.push(chunk.slice()), onClose: (err) => c.closes.push(err) })
  return c
}

/** A listener whose accepted connections are queued for the test; everything closes with the test. */
async function listen(t: TestContext, family: Family): Promise<{ listener: StreamListener; accepted: StreamConn[] }> {
  const rt = defaultRuntime
  const accepted: StreamConn[] = []
  const listener = await rt.listenTcp({ address: LOOPBACK[family], port: 0, family, onConnection: (c) => accepted.push(c) })
  t.defer(() => listener.close())
  t.defer(() => accepted.forEach((c) => c.destroy()))
  return { listener, accepted }
}

async function connect(t: TestContext, family: Family, port: number): Promise<StreamConn> {
  const rt = defaultRuntime
  const conn = await rt.connectTcp({ address: LOOPBACK[family], port })
  t.defer(() => conn.destroy())
  return conn
}

const text = (s: string) => new TextEncoder().encode(s)

for (const family of [4, 6] as const) {
  const host = LOOPBACK[family]

  test(`listen on ${host}:0, connect, and talk both ways`, async (t) => {
    const { listener, accepted } = await listen(t, family)
    assert.equal(listener.local.address, host)
    assert.ok(listener.local.port > 0, `port ${listener.local.port}`)
    const client = await connect(t, family, listener.local.port)
    const fromServer = collect(client)
    await waitFor(() => accepted.length === 1, 'the accepted connection', 2000)
    const server = accepted[0]
    const fromClient = collect(server)

    assert.equal(client.remote.address, host)
    assert.equal(client.remote.port, listener.local.port)
    assert.equal(client.remote.family, family)
    assert.equal(server.remote.port, client.local.port)
    assert.equal(server.remote.address, host)

    assert.equal(client.write(text('hello ')), true)
    client.write(text('server'))
    await waitFor(() => fromClient.text() === 'hello server', 'the client bytes', 2000)
    server.write(text('hello client'))
    await waitFor(() => fromServer.text() === 'hello client', 'the server bytes', 2000)
    assert.deepEqual(fromServer.closes, [])
  })
}

test('setHandlers after data arrived still delivers the buffered data', async (t) => {
  const { listener, accepted } = await listen(t, 4)
  const client = await connect(t, 4, listener.local.port)
  const clientSide = collect(client)
  client.write(text('early bytes'))
  client.end()
  await waitFor(() => accepted.length === 1, 'the accepted connection', 2000)
  // The server side has read the bytes and the FIN before anyone listens: it ended its side in
  // turn (no half-open sockets), which closed the client's.
  await waitFor(() => clientSide.closes.length === 1, 'the server side to read the FIN and end', 2000)
  const got = collect(accepted[0])
  await waitFor(() => got.text() === 'early bytes', 'the buffered bytes', 2000)
  await waitFor(() => got.closes.length === 1, 'onClose after the peer ended', 2000)
})

test('destroy() calls onClose exactly once on each side', async (t) => {
  const { listener, accepted } = await listen(t, 4)
  const client = await connect(t, 4, listener.local.port)
  const clientSide = collect(client)
  await waitFor(() => accepted.length === 1, 'the accepted connection', 2000)
  const serverSide = collect(accepted[0])
  client.destroy()
  client.destroy()
  await waitFor(() => clientSide.closes.length === 1 && serverSide.closes.length === 1, 'both onClose calls', 2000)
  // The positive control: a second pair destroyed afterwards reports its own closes; by then a
  // second call for the first pair would have come too.
  const other = await connect(t, 4, listener.local.port)
  const otherSide = collect(other)
  await waitFor(() => accepted.length === 2, 'the second accepted connection', 2000)
  const otherServerSide = collect(accepted[1])
  other.destroy()
  await waitFor(() => otherSide.closes.length === 1 && otherServerSide.closes.length === 1, 'the second pair\'s onClose calls', 2000)
  assert.equal(clientSide.closes.length, 1)
  assert.equal(serverSide.closes.length, 1)
  assert.equal(client.write(text('too late')), false)
})

test('connecting to a closed port rejects with ECONNREFUSED', async (t) => {
  const rt = defaultRuntime
  // A port that was just ours and is now closed: nothing else on 127.0.0.1 should take it this fast.
  const probe = await rt.listenTcp({ address: '127.0.0.1', port: 0, family: 4, onConnection: (c) => c.destroy() })
  const port = probe.local.port
  await probe.close()
  await assert.rejects(connect(t, 4, port), (err: unknown) => {
    assert.equal(errnoOf(err), 'ECONNREFUSED', String(err))
    return true
  })
})

test('connect with an aborted signal rejects, before or during the attempt', async (t) => {
  const rt = defaultRuntime
  const { listener } = await listen(t, 4)
  const before = new AbortController()
  before.abort(new Error('aborted before connect'))
  await assert.rejects(rt.connectTcp({ address: '127.0.0.1', port: listener.local.port, signal: before.signal }), /aborted before connect/)

  const during = new AbortController()
  const attempt = rt.connectTcp({ address: '127.0.0.1', port: listener.local.port, signal: during.signal })
  during.abort(new Error('aborted during connect'))
  await assert.rejects(attempt, /aborted during connect/)
})

test('lookup of a literal and of localhost', async () => {
  const rt = defaultRuntime
  assert.deepEqual(await rt.lookup('127.0.0.1'), [{ address: '127.0.0.1', family: 4 }])
  assert.deepEqual(await rt.lookup('::1'), [{ address: '::1', family: 6 }])
  const local = await rt.lookup('localhost')
  assert.ok(local.some((a) => a.address === '127.0.0.1'), JSON.stringify(local))
  // Resolver order, not Deno's ipv4first default: where the system lists ::1 for localhost
  // (glibc sorts it first), it must come first here too.
  if (local.some((a) => a.address === '::1')) assert.equal(local[0].address, '::1', JSON.stringify(local))
})
