/**
 * The stream multiplexer (src/core/streams/mux.ts) between two real Sessions over an in-memory
 * connection pair whose bytes move only when the test says so, on a fake clock: open and accept,
 * data and half-close both ways, resets, the stream limit, flow-control violations, frames for
 * unknown streams, a peer that predates streams, a stalled reader, a full connection.
 */
import assert from 'node:assert/strict'
import { Deadlines } from '../../src/base/deadlines.ts'
import { createLogger } from '../../src/base/logger.ts'
import { DropReporter, Stats } from '../../src/base/stats.ts'
import type { ByteStreamHandlers } from '../../src/core/streams/byte-stream.ts'
import { StreamError } from '../../src/core/streams/codes.ts'
import { INITIAL_WINDOW, MAX_CREDIT } from '../../src/core/streams/flow-control.ts'
import { CONN_STREAM_HIGH, StreamMux } from '../../src/core/streams/mux.ts'
import type { TunnelStream } from '../../src/core/streams/tunnel-stream.ts'
import { Session } from '../../src/core/tunnel/session.ts'
import type { StreamConn, StreamHandlers } from '../../src/ports/runtime.ts'
import { Kind, type Frame } from '../../src/protocol/frame.ts'
import { negotiatedWire } from '../../src/protocol/wire.ts'
import { wireFor } from '../../src/protocol/wire-for.ts'
import { test } from '../harness.ts'
import { FakeClock } from '../helpers/fake-clock.ts'
import { concat } from '../helpers/bytes.mjs'

/** One end of an in-memory connection: written bytes wait in `outbox` until the test moves them. */
class LinkedConn implements StreamConn {
  readonly remote: StreamConn['remote']
  readonly local: StreamConn['local']
  peer!: LinkedConn
  outbox: Uint8Array[] = []
  handlers: StreamHandlers | undefined
  closed = false
  constructor(port: number, peerPort: number) {
    this.local = { address: '127.0.0.1', port, family: 4 }
    this.remote = { address: '127.0.0.1', port: peerPort, family: 4 }
  }
  get bufferedAmount(): number {
    return this.outbox.reduce((n, b) => n + b.length, 0)
  }
  write(data: Uint8Array): boolean {
    if (this.closed) return false
    this.outbox.push(data.slice())
    return true
  }
  setHandlers(h: StreamHandlers): void {
    this.handlers = h
  }
  end(): void {
    this.destroy()
  }
  destroy(): void {
    if (this.closed) return
    this.closed = true
    this.handlers?.onClose()
    this.peer.destroy()
  }
  /** Delivers everything written so far to the peer; returns the bytes moved. */
  deliver(): number {
    const chunks = this.outbox
    this.outbox = []
    for (const c of chunks) this.peer.handlers?.onData(c)
    if (chunks.length > 0) this.handlers?.onDrain?.()
    return chunks.reduce((n, b) => n + b.length, 0)
  }
}

const wire = negotiatedWire(wireFor('protobuf'), { messageFramed: false })

function pair(opts: { maxStreams?: number; peerWithoutStreams?: boolean } = {}) {
  const clock = new FakeClock()
  const deadlines = new Deadlines(clock)
  const a = new LinkedConn(1000, 2000)
  const b = new LinkedConn(2000, 1000)
  a.peer = b
  b.peer = a
  const logger = createLogger('silent')
  const mk = (conn: LinkedConn, side: 'client' | 'server') => {
    const stats = new Stats()
    const session = new Session(conn, { side, wire, helloTimeoutMs: 10_000, heartbeatMs: 0, defaultKind: Kind.request, logger, stats, deadlines })
    session.onFrame = () => {}
    return { session, stats, drops: new DropReporter(stats, () => {}) }
  }
  const c = mk(a, 'client')
  const s = mk(b, 'server')
  const accepted: TunnelStream[] = []
  const client = new StreamMux(c.session, { side: 'client', clock, stats: c.stats, drops: c.drops, logger, maxStreams: opts.maxStreams })
  const server = opts.peerWithoutStreams ? undefined : new StreamMux(s.session, { side: 'server', clock, stats: s.stats, drops: s.drops, logger, maxStreams: opts.maxStreams, accept: (st) => accepted.push(st) })
  /** Moves bytes both ways until nothing more is written. */
  const run = () => {
    for (let i = 0; i < 10_000; i++) if (a.deliver() + b.deliver() === 0) return
    throw new Error('the connection never went quiet')
  }
  return { clock, a, b, client, server, accepted, run, cstats: c.stats, sstats: s.stats, csession: c.session, ssession: s.session }
}

/** Collects what a stream delivers. */
function sink(stream: TunnelStream, opts: { pauseAt?: number } = {}) {
  const got = { bytes: 0, chunks: [] as Uint8Array[], ended: false, closed: false, err: undefined as StreamError | undefined, drains: 0 }
  let pausedOnce = false
  const h: ByteStreamHandlers = {
    onData(chunk) {
      got.bytes += chunk.length
      got.chunks.push(chunk)
      if (opts.pauseAt !== undefined && !pausedOnce && got.bytes >= opts.pauseAt) {
        pausedOnce = true
        stream.pause()
      }
    },
    onEnd: () => (got.ended = true),
    onClose: (err) => {
      got.closed = true
      got.err = err
    },
    onDrain: () => got.drains++,
  }
  stream.setHandlers(h)
  return got
}

async function openPair(p: ReturnType<typeof pair>, dst = 'db.internal:5432') {
  const opener = p.client.open(dst, '127.0.0.1:5555')
  p.run()
  const acceptor = p.accepted.at(-1)!
  assert.equal(acceptor.dst, dst)
  assert.equal(acceptor.src, '127.0.0.1:5555')
  acceptor.accept('10.0.0.2:40000')
  p.run()
  const opened = await opener.opened!
  assert.equal(opened.bound, '10.0.0.2:40000')
  return { opener: opened, acceptor }
}

test('open, data both ways, FIN both ways: the stream closes cleanly on both sides and its id is free', async () => {
  const p = pair()
  const { opener, acceptor } = await openPair(p)
  assert.equal(opener.id % 2, 1, 'the dialling side opens odd ids')
  const atOpener = sink(opener)
  const atAcceptor = sink(acceptor)
  const up = new Uint8Array(300_000).map((_, i) => i & 0xff)
  const down = new Uint8Array(100_000).map((_, i) => (i * 3) & 0xff)
  opener.write(up)
  opener.end()
  p.run()
  assert.ok(atAcceptor.ended)
  assert.deepEqual(concat(atAcceptor.chunks), up)
  assert.equal(atAcceptor.closed, false, 'half-closed: the other way is still open')
  acceptor.write(down)
  acceptor.end()
  p.run()
  assert.deepEqual(concat(atOpener.chunks), down)
  assert.ok(atOpener.ended && atOpener.closed && atAcceptor.closed)
  assert.equal(atOpener.err, undefined)
  assert.equal(atAcceptor.err, undefined)
  assert.equal(p.client.size, 0)
  assert.equal(p.server!.size, 0)
  assert.equal(p.cstats.get('streams.closed'), 1)
})

test('the accepting side opens even ids; a side that only opens (its tunnel is --out) refuses them as unsupported', async () => {
  const p = pair()
  const s = p.server!.open('x:1', undefined)
  p.run()
  await assert.rejects(s.opened!, (err: StreamError) => err.streamCode === 'unsupported' && /does not accept/.test(err.message))
  assert.equal(s.id % 2, 0)
  assert.equal(p.server!.size, 0)
  assert.equal(p.cstats.get('streams.refused.unsupported'), 1)
})

test('a refusal reaches the opener with its code and text', async () => {
  const p = pair()
  const opener = p.client.open('10.0.0.9:22', undefined)
  p.run()
  p.accepted[0]!.refuse(new StreamError('not_allowed', '10.0.0.9:22 is not allowed'))
  p.run()
  await assert.rejects(opener.opened!, (err: StreamError) => err.streamCode === 'not_allowed' && /is not allowed/.test(err.message))
  assert.equal(p.client.size, 0)
})

test('a reset drops queued data and reaches the other side with its code', async () => {
  const p = pair()
  const { opener, acceptor } = await openPair(p)
  const atAcceptor = sink(acceptor)
  const atOpener = sink(opener)
  opener.write(new Uint8Array(50_000))
  opener.reset(new StreamError('reset', 'client went away'))
  p.run()
  assert.ok(atOpener.closed && atOpener.err?.streamCode === 'reset')
  assert.ok(atAcceptor.closed)
  assert.equal(atAcceptor.err?.streamCode, 'reset')
  assert.equal(p.server!.size, 0)
})

test('opens past the stream limit are refused (too_many) without allocating anything', async () => {
  const p = pair({ maxStreams: 4 })
  // The client mux would refuse on its own: send raw open frames as a flooding peer would.
  for (let id = 1; id <= 41; id += 2) p.csession.send({ flow: id, id: INITIAL_WINDOW, kind: Kind.open, payload: new Uint8Array(0), dst: 'a:1' })
  p.run()
  assert.equal(p.accepted.length, 4)
  assert.equal(p.server!.size, 4)
  assert.equal(p.sstats.get('dropped.stream_limit'), 17)
  // And the opening side refuses locally once it has its limit.
  const q = pair({ maxStreams: 2 })
  q.client.open('a:1', undefined)
  q.client.open('a:1', undefined)
  assert.throws(() => q.client.open('a:1', undefined), (err: StreamError) => err.streamCode === 'too_many')
})

test('an open with an id of the wrong side is refused as a protocol error', () => {
  const p = pair()
  p.csession.send({ flow: 2, id: INITIAL_WINDOW, kind: Kind.open, payload: new Uint8Array(0) })
  p.run()
  assert.equal(p.accepted.length, 0)
  assert.equal(p.sstats.get('dropped.stream_bad_id'), 1)
})

test('a window update that takes the credit past 2^31-1 resets the stream (flow_control)', async () => {
  const p = pair()
  const { opener, acceptor } = await openPair(p)
  const atAcceptor = sink(acceptor)
  const atOpener = sink(opener)
  p.ssession.send({ flow: opener.id, id: MAX_CREDIT, kind: Kind.window, payload: new Uint8Array(0) })
  p.run()
  assert.equal(atOpener.err?.streamCode, 'flow_control')
  assert.equal(atAcceptor.err?.streamCode, 'flow_control')
})

test('data beyond the granted credit resets the stream (flow_control); the connection and other streams stay', async () => {
  const p = pair()
  const one = await openPair(p)
  const two = await openPair(p)
  const atOne = sink(one.acceptor, { pauseAt: 1 })
  const atTwo = sink(two.acceptor)
  // A misbehaving peer: data frames for stream one well past its window.
  for (let i = 0; i < 10; i++) p.csession.send({ flow: one.opener.id, id: 0, kind: Kind.data, payload: new Uint8Array(32 * 1024) })
  two.opener.write(new Uint8Array([1, 2, 3]))
  p.run()
  assert.equal(atOne.err?.streamCode, 'flow_control')
  assert.ok(atOne.bytes <= INITIAL_WINDOW)
  assert.equal(atTwo.bytes, 3)
  assert.equal(atTwo.closed, false)
})

test('data for a stream never opened is a counted drop; for one just reset it is a quiet late frame', async () => {
  const p = pair()
  p.csession.send({ flow: 77, id: 0, kind: Kind.data, payload: new Uint8Array([1]) })
  p.run()
  assert.equal(p.sstats.get('dropped.stream_unknown'), 1)
  const { opener, acceptor } = await openPair(p)
  sink(opener)
  acceptor.reset(new StreamError('reset', 'gone'))
  // The opener's data was already on its way when the reset left.
  p.csession.send({ flow: opener.id, id: 0, kind: Kind.data, payload: new Uint8Array([1]) })
  p.run()
  assert.equal(p.sstats.get('dropped.stream_unknown'), 1)
  assert.ok(p.sstats.get('streams.late_frames') >= 1)
})

test('a peer that predates streams answers open with an error frame: the opener gets a clear refusal, not a hang', async () => {
  const p = pair({ peerWithoutStreams: true })
  const s = p.client.open('db:5432', undefined)
  p.run()
  await assert.rejects(s.opened!, (err: StreamError) => err.streamCode === 'unsupported' && /does not support TCP streams/.test(err.message))
  assert.equal(p.client.peerLacksStreams, true)
  assert.equal(p.client.canOpen, false)
})

test('a stalled reader holds at most its window; the other stream keeps flowing', async () => {
  const p = pair()
  const stalled = await openPair(p)
  const busy = await openPair(p)
  const atStalled = sink(stalled.acceptor, { pauseAt: 1 })
  const atBusy = sink(busy.acceptor)
  const big = new Uint8Array(4 << 20)
  let writes = 0
  /** A writer that honours backpressure: after write() says no, it waits for onDrain. */
  const pumpWriter = (s: TunnelStream) => {
    const events = sink(s)
    let sent = 0
    let waitingSince = -1
    return () => {
      if (waitingSince >= 0 && events.drains === waitingSince) return sent
      waitingSince = -1
      while (sent < big.length) {
        const ok = s.write(big.subarray(sent, sent + 65536))
        sent += 65536
        writes++
        if (!ok) {
          waitingSince = events.drains
          break
        }
      }
      return sent
    }
  }
  const stalledWriter = pumpWriter(stalled.opener)
  const busyWriter = pumpWriter(busy.opener)
  for (let i = 0; i < 200 && atBusy.bytes < big.length; i++) {
    stalledWriter()
    busyWriter()
    p.run()
  }
  assert.equal(atBusy.bytes, big.length, 'the busy stream got everything')
  assert.ok(atStalled.bytes <= 65536 * 2, 'the stalled reader took one chunk before pausing')
  // Memory: the paused receiver queues at most its window; the sender stops at its credit.
  const held = stalledWriter()
  assert.ok(held <= INITIAL_WINDOW + 2 * 65536, `held ${held}: ` + 'the stalled stream\'s writer is held back at its credit plus its queue')
  stalled.acceptor.resume()
  for (let i = 0; i < 400 && atStalled.bytes < big.length; i++) {
    stalledWriter()
    p.run()
  }
  assert.equal(atStalled.bytes, big.length, 'after resume everything arrives')
  assert.ok(writes > 0)
})

test('stream data waits while the connection holds a megabyte, and leaves when it drains; control frames still go', async () => {
  const p = pair()
  const { opener, acceptor } = await openPair(p)
  const got = sink(acceptor)
  sink(opener)
  // Fill the connection's send buffer without delivering.
  opener.write(new Uint8Array(INITIAL_WINDOW))
  while (p.a.bufferedAmount < CONN_STREAM_HIGH) p.csession.send({ flow: 1, id: 1, kind: Kind.event, payload: new Uint8Array(60_000) })
  const before = p.a.bufferedAmount
  const second = p.client.open('b:2', undefined)
  assert.ok(p.a.bufferedAmount > before, 'the open (a control frame) went out at once')
  opener.write(new Uint8Array(1000))
  assert.ok(p.a.bufferedAmount - before < 1000, 'data waits')
  // Drain (deliver) and let the poll find room.
  p.run()
  p.clock.advance(5)
  p.run()
  assert.ok(got.bytes >= INITIAL_WINDOW)
  assert.ok(second.state !== 'closed')
})

test('the connection closing resets its streams (shutdown) and refuses new ones', async () => {
  const p = pair()
  const { opener, acceptor } = await openPair(p)
  const atOpener = sink(opener)
  const atAcceptor = sink(acceptor)
  p.a.destroy()
  assert.equal(atOpener.err?.streamCode, 'shutdown')
  assert.equal(atAcceptor.err?.streamCode, 'shutdown')
  assert.equal(p.client.canOpen, false)
})

test('a peer that floods opens and reads nothing gets no refusals once our send buffer is at the datagram limit (counted instead)', () => {
  const p = pair({ maxStreams: 1 })
  // The server's send buffer is full: the peer has not read for a while.
  while (p.b.bufferedAmount < 4 << 20) p.ssession.send({ flow: 1, id: 1, kind: Kind.event, payload: new Uint8Array(60_000) })
  const before = p.b.bufferedAmount
  for (let id = 1; id <= 21; id += 2) p.csession.send({ flow: id, id: INITIAL_WINDOW, kind: Kind.open, payload: new Uint8Array(0) })
  p.a.deliver() // client → server only
  assert.equal(p.accepted.length, 1)
  assert.equal(p.sstats.get('dropped.stream_refusal_unsent'), 10)
  // At most the round-trip ping the accepted stream started (one a second): no refusals.
  assert.ok(p.b.bufferedAmount - before < 64, `${p.b.bufferedAmount - before} more bytes were queued for the peer`)
})

test('a peer that stops reading but keeps opening and resetting streams loses its connection before our control queue outgrows its bound', () => {
  const p = pair({ maxStreams: 4 })
  while (p.b.bufferedAmount < 4 << 20) p.ssession.send({ flow: 1, id: 1, kind: Kind.event, payload: new Uint8Array(60_000) })
  // Each cycle: an open the server accepts (a control frame queued), then data before the
  // acceptance could have arrived: a protocol reset (another control frame queued).
  let id = 1
  for (let i = 0; i < 200 && !p.b.closed; i++) {
    p.csession.send({ flow: id, id: INITIAL_WINDOW, kind: Kind.open, payload: new Uint8Array(0) })
    p.a.deliver()
    p.accepted.at(-1)?.accept()
    p.csession.send({ flow: id, id: 0, kind: Kind.close, payload: new Uint8Array(0) })
    p.csession.send({ flow: id, id: 0, kind: Kind.data, payload: new Uint8Array([1]) })
    p.a.deliver()
    id += 2
  }
  assert.equal(p.sstats.get('dropped.stream_control_overflow'), 1)
  assert.ok(p.ssession.isClosed)
})
