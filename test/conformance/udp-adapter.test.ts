/**
 * UDP adapter conformance: the same assertions on every runtime, with real sockets on 127.0.0.1
 * and ::1 only (traffic never leaves 127.0.0.0/8 or ::1).
 */
import assert from 'node:assert/strict'
import { runtime as defaultRuntime } from '#runtime'
import type { Family, UdpBindOptions, UdpSocket } from '../../src/ports/runtime.ts'
import { errnoOf } from '../../src/base/errors.ts'
import { sleep, test, waitFor, type TestContext } from '../harness.ts'

interface Received {
  data: Uint8Array
  /** The view onMessage was given, kept without copying (to observe buffer reuse). */
  raw: Uint8Array
  address: string
  port: number
}

interface Bound {
  socket: UdpSocket
  received: Received[]
  errors: Error[]
}

const LOOPBACK: Record<Family, string> = { 4: '127.0.0.1', 6: '::1' }

/** Binds a socket whose lifetime is the test's; received datagrams are copied into `received`. */
async function bind(t: TestContext, family: Family, extra: Partial<UdpBindOptions> = {}): Promise<Bound> {
  const rt = defaultRuntime
  const received: Received[] = []
  const errors: Error[] = []
  const socket = await rt.bindUdp({
    address: LOOPBACK[family],
    port: 0,
    family,
    onMessage: (data, address, port) => received.push({ data: data.slice(), raw: data, address, port }),
    onError: (err) => errors.push(err),
    ...extra,
  })
  t.defer(() => socket.close())
  return { socket, received, errors }
}

const text = (s: string) => new TextEncoder().encode(s)
const str = (b: Uint8Array) => new TextDecoder().decode(b)

for (const family of [4, 6] as const) {
  const host = LOOPBACK[family]

  test(`binding ${host}:0 reports the real port`, async (t) => {
    const a = await bind(t, family)
    const b = await bind(t, family)
    assert.equal(a.socket.local.address, host)
    assert.equal(a.socket.local.family, family)
    assert.ok(a.socket.local.port > 0 && a.socket.local.port < 65536, `port ${a.socket.local.port}`)
    assert.notEqual(a.socket.local.port, b.socket.local.port)
    // The reported port is the one that receives.
    b.socket.send(text('hello'), a.socket.local.port, host)
    await waitFor(() => a.received.length === 1, 'the datagram', 2000)
    assert.equal(a.received[0].port, b.socket.local.port)
  })

  test(`echo round trip over ${host}`, async (t) => {
    const client = await bind(t, family)
    const rt = defaultRuntime
    // The echo sends the view it was given straight back (the relay forwards the same way).
    const server: UdpSocket = await rt.bindUdp({
      address: host,
      port: 0,
      family,
      onMessage: (data, address, port) => server.send(data, port, address),
    })
    t.defer(() => server.close())
    for (let i = 0; i < 10; i++) client.socket.send(text(`ping ${i}`), server.local.port, host)
    await waitFor(() => client.received.length === 10, 'ten echoes', 3000)
    assert.deepEqual(client.received.map((r) => str(r.data)).sort(), Array.from({ length: 10 }, (_, i) => `ping ${i}`).sort())
    for (const r of client.received) {
      assert.equal(r.address, host)
      assert.equal(r.port, server.local.port)
    }
    assert.deepEqual(client.errors, [])
  })

  test(`a zero-length datagram arrives as length 0 over ${host}`, async (t) => {
    const a = await bind(t, family)
    const b = await bind(t, family)
    b.socket.send(new Uint8Array(0), a.socket.local.port, host)
    b.socket.send(text('after'), a.socket.local.port, host)
    await waitFor(() => a.received.length === 2, 'both datagrams', 2000)
    assert.equal(a.received[0].data.byteLength, 0)
    assert.equal(str(a.received[1].data), 'after')
  })

  test(`binding a port that is already bound on ${host} fails with EADDRINUSE`, async (t) => {
    const a = await bind(t, family)
    const rt = defaultRuntime
    let second: UdpSocket | undefined
    await assert.rejects(
      (async () => {
        second = await rt.bindUdp({ address: host, port: a.socket.local.port, family, onMessage: () => {} })
      })(),
      (err: unknown) => {
        assert.equal(errnoOf(err), 'EADDRINUSE', String(err))
        return true
      },
    )
    second?.close()
  })
}

test('a 65,507-byte datagram arrives whole over IPv4 loopback', async (t) => {
  const a = await bind(t, 4)
  const b = await bind(t, 4)
  const big = new Uint8Array(65507)
  for (let i = 0; i < big.length; i++) big[i] = (i * 7 + 3) & 0xff
  b.socket.send(big, a.socket.local.port, '127.0.0.1')
  await waitFor(() => a.received.length === 1, 'the big datagram', 3000)
  assert.equal(a.received[0].data.byteLength, 65507)
  assert.ok(a.received[0].data.every((v, i) => v === big[i]), 'contents differ')
  assert.deepEqual(b.errors, [])
})

test('an oversized datagram is reported through onError, send never throws', async (t) => {
  const a = await bind(t, 4)
  const b = await bind(t, 4)
  b.socket.send(new Uint8Array(70_000), a.socket.local.port, '127.0.0.1')
  await waitFor(() => b.errors.length === 1, 'a send error', 2000)
  assert.equal(errnoOf(b.errors[0]), 'EMSGSIZE', String(b.errors[0]))
  // The positive control: a datagram that fits, sent after it, arrives alone.
  b.socket.send(text('fits'), a.socket.local.port, '127.0.0.1')
  await waitFor(() => a.received.length === 1, 'the datagram that fits', 2000)
  assert.equal(str(a.received[0].data), 'fits')
})

test('1,000 datagrams sent in bursts of 100 to one socket all arrive, in order', async (t) => {
  const a = await bind(t, 4)
  const b = await bind(t, 4)
  const total = 1000
  // Bursts of 100: Bun.udpSocket and Deno.listenDatagram cannot enlarge the ~208 KiB default
  // receive buffer, which holds only a few hundred small datagrams sent from this same event loop.
  for (let sent = 0; sent < total; ) {
    for (const end = sent + 100; sent < end; sent++) {
      const d = new Uint8Array(64)
      new DataView(d.buffer).setUint32(0, sent)
      b.socket.send(d, a.socket.local.port, '127.0.0.1')
    }
    await waitFor(() => a.received.length >= sent, `${sent} datagrams (have ${a.received.length})`, 3000, 1)
  }
  assert.equal(a.received.length, total)
  // One sender, one receiver, loopback: the adapter must not reorder (Deno's unawaited sends do).
  const order = a.received.map((r) => new DataView(r.data.buffer, r.data.byteOffset).getUint32(0))
  assert.deepEqual(order, Array.from({ length: total }, (_, i) => i))
  assert.deepEqual(b.errors, [])
})

test('broadcast:true sends to 127.255.255.255; without it the send fails (except on Deno)', async (t) => {
  const rt = defaultRuntime
  // Linux delivers a broadcast to sockets bound to the broadcast address itself: it stays in 127/8.
  const listener = await bind(t, 4, { address: '127.255.255.255' })
  const on = await bind(t, 4, { broadcast: true })
  on.socket.send(text('to all'), listener.socket.local.port, '127.255.255.255')
  await waitFor(() => listener.received.length === 1, 'the broadcast', 2000)
  assert.equal(str(listener.received[0].data), 'to all')
  assert.deepEqual(on.errors, [])

  const off = await bind(t, 4)
  off.socket.send(text('not allowed'), listener.socket.local.port, '127.255.255.255')
  if (rt.name === 'deno') {
    // Deno.listenDatagram always has SO_BROADCAST on (docs/runtimes.md#udp).
    await waitFor(() => listener.received.length === 2, 'the second broadcast', 2000)
  } else {
    await waitFor(() => off.errors.length === 1, 'EACCES', 2000)
    assert.equal(errnoOf(off.errors[0]), 'EACCES', String(off.errors[0]))
  }
})

test('close() is idempotent and stops delivery', async (t) => {
  const a = await bind(t, 4)
  const b = await bind(t, 4)
  b.socket.send(text('before'), a.socket.local.port, '127.0.0.1')
  await waitFor(() => a.received.length === 1, 'the first datagram', 2000)
  a.socket.close()
  a.socket.close()
  // The positive control for both checks below: a third socket gets what b sends right after,
  // and b gets what the third sends right after a tried to.
  const c = await bind(t, 4)
  b.socket.send(text('after'), a.socket.local.port, '127.0.0.1')
  b.socket.send(text('to c'), c.socket.local.port, '127.0.0.1')
  await waitFor(() => c.received.length === 1, 'the datagram to the open socket', 2000)
  assert.equal(a.received.length, 1)
  // Sending on a closed socket is a no-op, not a throw.
  a.socket.send(text('from a closed socket'), b.socket.local.port, '127.0.0.1')
  c.socket.send(text('from c'), b.socket.local.port, '127.0.0.1')
  await waitFor(() => b.received.length >= 1, 'the datagram from the open socket', 2000)
  assert.deepEqual(b.received.map((r) => str(r.data)), ['from c'])
  assert.deepEqual(a.errors, [])
})

test('the port of a closed socket can be bound again at once (a restarting half)', async (t) => {
  const first = await bind(t, 4)
  const port = first.socket.local.port
  first.socket.close()
  const again = await bind(t, 4, { port })
  assert.equal(again.socket.local.port, port)
  const b = await bind(t, 4)
  b.socket.send(text('to the new socket'), port, '127.0.0.1')
  await waitFor(() => again.received.length === 1, 'the datagram', 2000)
  assert.equal(first.received.length, 0)
})

test('a copy of onMessage data stays valid; which adapters reuse their buffer', async (t) => {
  const rt = defaultRuntime
  const a = await bind(t, 4)
  const b = await bind(t, 4)
  for (let i = 0; i < 20; i++) b.socket.send(text(`datagram ${i}`.padEnd(20 + i, '.')), a.socket.local.port, '127.0.0.1')
  await waitFor(() => a.received.length === 20, 'twenty datagrams', 2000)
  a.received.forEach((r, i) => assert.equal(str(r.data), `datagram ${i}`.padEnd(20 + i, '.')))
  // Documented in each adapter's udp.ts: the Deno native receive loop reads into one buffer.
  const reuses = rt.name === 'deno'
  const distinct = new Set(a.received.map((r) => r.raw.buffer)).size
  assert.equal(distinct, reuses ? 1 : 20, `${rt.name}: ${distinct} distinct buffers for 20 datagrams`)
})

test('datagrams sent in one turn arrive in order; a bad one among them is reported alone', async (t) => {
  const a = await bind(t, 4)
  const b = await bind(t, 4)
  // One turn: the Bun adapter sends these with one sendmmsg, which stops at the oversized one.
  for (let i = 0; i < 10; i++) {
    b.socket.send(i === 4 ? new Uint8Array(70_000) : text(`turn ${i}`), a.socket.local.port, '127.0.0.1')
  }
  await waitFor(() => a.received.length === 9 && b.errors.length === 1, `nine datagrams and one error (have ${a.received.length}, ${b.errors.length})`, 2000)
  assert.deepEqual(a.received.map((r) => str(r.data)), [0, 1, 2, 3, 5, 6, 7, 8, 9].map((i) => `turn ${i}`))
  assert.equal(errnoOf(b.errors[0]), 'EMSGSIZE', String(b.errors[0]))
})

test('the sender may reuse its buffer as soon as send() returns', async (t) => {
  const a = await bind(t, 4)
  const b = await bind(t, 4)
  const buf = new Uint8Array(8)
  for (let i = 0; i < 5; i++) {
    buf.fill(0x30 + i)
    b.socket.send(buf, a.socket.local.port, '127.0.0.1')
  }
  buf.fill(0x78)
  await waitFor(() => a.received.length === 5, 'five datagrams', 2000)
  assert.deepEqual(a.received.map((r) => str(r.data)), ['00000000', '11111111', '22222222', '33333333', '44444444'])
})

test('a datagram refused by a closed port (ICMP) neither breaks the socket nor is reported as a bare "undefined"', async (t) => {
  const rt = defaultRuntime
  const got: string[] = []
  const errors: Error[] = []
  const rx = await rt.bindUdp({ address: '127.0.0.1', port: 0, family: 4, onMessage: (d) => got.push(new TextDecoder().decode(d)) })
  t.defer(() => rx.close())
  const closed = await rt.bindUdp({ address: '127.0.0.1', port: 0, family: 4, onMessage: () => {} })
  const closedPort = closed.local.port
  closed.close()
  const tx = await rt.bindUdp({ address: '0.0.0.0', port: 0, family: 4, onMessage: () => {}, onError: (e) => errors.push(e) })
  t.defer(() => tx.close())
  for (let i = 0; i < 5; i++) {
    tx.send(new TextEncoder().encode('lost'), closedPort, '127.0.0.1')
    await sleep(10)
    tx.send(new TextEncoder().encode(`kept${i}`), rx.local.port, '127.0.0.1')
  }
  await waitFor(() => got.length === 5, 'every datagram to the live receiver')
  assert.deepEqual(got, ['kept0', 'kept1', 'kept2', 'kept3', 'kept4'])
  for (const e of errors) assert.ok(e.message && e.message !== 'undefined' && (e as Error & { code?: string }).code, `reported as: ${e.message}`)
})
