/**
 * The tunnel session's state machine on a fake connection and a fake clock: every deadline is
 * checked at its exact time, without waiting.
 */
import assert from 'node:assert/strict'
import { Deadlines } from '../../src/base/deadlines.ts'
import { createLogger } from '../../src/base/logger.ts'
import { Stats } from '../../src/base/stats.ts'
import { Session, type SessionOptions } from '../../src/core/tunnel/session.ts'
import type { StreamConn, StreamHandlers } from '../../src/ports/runtime.ts'
import { Kind, type Frame } from '../../src/protocol/frame.ts'
import { encodeClientHello, encodeServerReply, parseServerReply } from '../../src/protocol/hello.ts'
import { uhppotedWire } from '../../src/protocol/wire.ts'
import { wireFor } from '../../src/protocol/wire-for.ts'
import { test } from '../harness.ts'
import { FakeClock } from '../helpers/fake-clock.ts'

class FakeConn implements StreamConn {
  readonly remote = { address: '192.0.2.7', port: 4000, family: 4 as const }
  readonly local = { address: '192.0.2.1', port: 12345, family: 4 as const }
  readonly bufferedAmount = 0
  written: Uint8Array[] = []
  ended = false
  destroyed = false
  handlers: StreamHandlers | undefined
  write(data: Uint8Array): boolean {
    this.written.push(data.slice())
    return true
  }
  setHandlers(h: StreamHandlers): void {
    this.handlers = h
  }
  end(): void {
    this.ended = true
  }
  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    this.handlers?.onClose()
  }
  /** The peer sends bytes. */
  push(data: Uint8Array): void {
    this.handlers!.onData(data)
  }
}

const protobuf = wireFor('protobuf')

function setup(opts: Partial<SessionOptions> & Pick<SessionOptions, 'side' | 'wire'>) {
  const clock = new FakeClock()
  const deadlines = new Deadlines(clock)
  const conn = new FakeConn()
  const stats = new Stats()
  const session = new Session(conn, { helloTimeoutMs: 10_000, heartbeatMs: 8000, defaultKind: Kind.request, logger: createLogger('silent'), stats, deadlines, ...opts })
  let closedWith: Error | undefined | null = null
  session.onClose((err) => (closedWith = err))
  return { clock, deadlines, conn, stats, session, closed: () => closedWith }
}

test('client: the hello goes out at once; no answer within the hello limit names uhppoted-tunnel and --codec uhppoted', () => {
  const { clock, conn, session, closed } = setup({ side: 'client', wire: protobuf })
  assert.equal(session.state, 'hello')
  assert.equal(conn.written.length, 1, 'the hello')
  clock.advance(9999)
  assert.equal(session.state, 'hello')
  clock.advance(1)
  assert.equal(session.state, 'closing')
  const err = closed() as Error & { code: string }
  assert.equal(err.code, 'E_HELLO_TIMEOUT')
  assert.match(err.message, /may be uhppoted-tunnel .* --codec uhppoted/)
  assert.ok(conn.ended && !conn.destroyed)
  clock.advance(500)
  assert.ok(conn.destroyed, 'cut after the grace')
  assert.equal(session.state, 'closed')
})

test('server: hello → open; a quiet peer is pinged after one heartbeat and dropped after three', () => {
  const { clock, conn, session, closed, stats } = setup({ side: 'server', wire: protobuf })
  conn.push(encodeClientHello({ codec: 'protobuf' }))
  assert.equal(session.state, 'open')
  assert.equal(parseServerReply(conn.written[0]!)?.reply.accepted, true)
  const pings = () => {
    const kinds: number[] = []
    const reader = protobuf.reader((f) => kinds.push(f.kind), Kind.request)
    for (const w of conn.written.slice(1)) reader.push(w)
    return kinds.filter((k) => k === Kind.ping).length
  }
  // Checks run every heartbeat / 4 (2 s): at 8 s the peer has been quiet for one heartbeat.
  clock.advance(7999)
  assert.equal(pings(), 0)
  clock.advance(1)
  assert.equal(pings(), 1, 'pinged once quiet for a heartbeat')
  clock.advance(15_999)
  assert.equal(session.state, 'open')
  assert.equal(pings(), 8, 'pinged at every check while quiet')
  clock.advance(1)
  assert.equal(session.state, 'closing', 'dropped at three heartbeats of silence')
  assert.equal((closed() as Error & { code: string }).code, 'E_PEER_DEAD')
  assert.equal(stats.get('tunnel.dead_peers'), 1)
})

test('server: frames that arrive with the hello reach the owner once it attaches', () => {
  const { conn, session } = setup({ side: 'server', wire: protobuf })
  const frame: Frame = { flow: 3, id: 9, kind: Kind.request, payload: Uint8Array.of(1, 2, 3) }
  const hello = encodeClientHello({ codec: 'protobuf' })
  const body = protobuf.encode(frame)
  const both = new Uint8Array(hello.length + body.length)
  both.set(hello)
  both.set(body, hello.length)
  conn.push(both)
  const got: Frame[] = []
  session.onFrame = (f) => got.push(f)
  assert.deepEqual(got.map((f) => [f.flow, f.id, [...f.payload]]), [[3, 9, [1, 2, 3]]])
})

test('server auto: a silent peer becomes a uhppoted-tunnel session after the silence; an edgerelay hello picks its codec', () => {
  const auto = { wireFor: (c: string) => (c === 'avro' || c === 'protobuf' ? wireFor(c) : undefined), uhppoted: uhppotedWire, silenceMs: 1000 }
  const silent = setup({ side: 'server', wire: auto })
  silent.clock.advance(999)
  assert.equal(silent.session.state, 'hello')
  silent.clock.advance(1)
  assert.equal(silent.session.state, 'open')
  assert.equal(silent.session.wire!.name, 'uhppoted')
  const avro = setup({ side: 'server', wire: auto })
  avro.conn.push(encodeClientHello({ codec: 'avro' }))
  assert.equal(avro.session.state, 'open')
  assert.equal(avro.session.wire!.name, 'avro')
  avro.clock.advance(5000)
  assert.equal(avro.session.state, 'open', 'the silence rule no longer applies once decided')
})

test('the state runs hello → open → closing → closed, and a lost connection during the hello says so', () => {
  const a = setup({ side: 'client', wire: protobuf })
  a.conn.push(encodeServerReply(true))
  assert.equal(a.session.state, 'open')
  a.session.close()
  assert.equal(a.session.state, 'closing')
  a.conn.destroy()
  assert.equal(a.session.state, 'closed')
  assert.equal(a.closed(), undefined, 'a clean close has no error')
  const b = setup({ side: 'server', wire: protobuf })
  b.conn.destroy()
  assert.equal(b.session.state, 'closed')
  assert.equal((b.closed() as Error & { code: string }).code, 'E_HELLO_CLOSED')
})

test('a thousand sessions waiting for their hello share one clock timer', () => {
  const clock = new FakeClock()
  const deadlines = new Deadlines(clock)
  const sessions = Array.from({ length: 1000 }, (_, i) => {
    clock.advance(1)
    return new Session(new FakeConn(), { side: 'server', wire: protobuf, helloTimeoutMs: 10_000, heartbeatMs: 8000, defaultKind: Kind.request, logger: createLogger('silent'), stats: new Stats(), deadlines })
  })
  assert.equal(clock.pending, 1)
  assert.equal(deadlines.size, 1000)
  clock.advance(9_001)
  assert.ok(sessions.every((s, i) => s.state === (i === 0 ? 'closing' : 'hello')), 'the first one timed out, exactly at its limit')
  clock.advance(999)
  assert.ok(sessions.every((s) => s.state !== 'hello'))
  clock.advance(500)
  assert.ok(sessions.every((s) => s.state === 'closed'))
  assert.equal(clock.pending, 0)
})

test('a connection that reports itself closed from inside end() (Deno) still gives the owners the session\'s own reason', () => {
  const { clock, conn, session, closed } = setup({ side: 'client', wire: protobuf })
  conn.end = () => {
    conn.ended = true
    conn.destroy()
  }
  clock.advance(10_000)
  assert.equal((closed() as Error & { code: string }).code, 'E_HELLO_TIMEOUT')
  assert.equal(session.state, 'closed')
})
