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

// --- STARTTLS: the upgrade step of the hello state ---

/** A STARTTLS upgrade the test completes or fails by hand. */
function upgrader() {
  const calls: { conn: StreamConn; resolve: (c: StreamConn) => void; reject: (e: Error) => void }[] = []
  const starttls = (conn: StreamConn) => new Promise<StreamConn>((resolve, reject) => calls.push({ conn, resolve, reject }))
  return { calls, starttls }
}
const settle = () => new Promise((r) => setTimeout(r, 0))

test('STARTTLS client: a plain hello with the offer and no token; the agreement starts TLS, the hello with the token follows inside it, then open', async () => {
  const up = upgrader()
  const { conn, session } = setup({ side: 'client', wire: protobuf, token: 'tok', starttls: up.starttls })
  const plain = conn.written[0]!
  assert.equal((plain[6]! << 8) | plain[7]!, 1, 'STARTTLS offered')
  assert.ok(!Buffer.from(plain).includes(Buffer.from('tok')), 'no token in plain text')
  conn.push(encodeServerReply(true, '', 1))
  assert.equal(session.state, 'upgrading')
  assert.equal(up.calls.length, 1)
  const secure = new FakeConn()
  up.calls[0]!.resolve(secure)
  await settle()
  assert.equal(session.state, 'hello')
  assert.equal(session.conn, secure)
  assert.ok(Buffer.from(secure.written[0]!).includes(Buffer.from('tok')), 'the token goes inside TLS')
  secure.push(encodeServerReply(true))
  assert.equal(session.state, 'open')
})

test('STARTTLS client: an accept without the agreement, or bytes after it, end the session; nothing more is written in plain text', () => {
  for (const [reply, code] of [[encodeServerReply(true), 'E_STARTTLS_REFUSED'], [Uint8Array.from([...encodeServerReply(true, '', 1), 0x16]), 'E_STARTTLS_PROTOCOL']] as const) {
    const up = upgrader()
    const { conn, session, closed } = setup({ side: 'client', wire: protobuf, token: 'tok', starttls: up.starttls })
    conn.push(reply)
    assert.equal(session.state, 'closing')
    assert.equal((closed() as Error & { code: string }).code, code)
    assert.equal(conn.written.length, 1, 'only the plain hello was written')
    assert.equal(up.calls.length, 0)
  }
})

test('STARTTLS server: a hello without the offer is refused; with it, the agreement, then the usual hello (token checked) inside TLS', async () => {
  const plainOnly = setup({ side: 'server', wire: protobuf, token: 'tok', starttls: upgrader().starttls })
  plainOnly.conn.push(encodeClientHello({ codec: 'protobuf', token: 'tok' }))
  assert.equal((plainOnly.closed() as Error & { code: string }).code, 'E_STARTTLS_REQUIRED')
  assert.match(parseServerReply(plainOnly.conn.written[0]!)!.reply.reason, /requires STARTTLS/)

  const up = upgrader()
  const { conn, session, closed } = setup({ side: 'server', wire: protobuf, token: 'tok', starttls: up.starttls })
  conn.push(encodeClientHello({ codec: 'protobuf', flags: 1 }))
  const agreed = parseServerReply(conn.written[0]!)!.reply
  assert.ok(agreed.accepted && agreed.flags === 1)
  assert.equal(session.state, 'upgrading')
  const secure = new FakeConn()
  up.calls[0]!.resolve(secure)
  await settle()
  secure.push(encodeClientHello({ codec: 'protobuf', token: 'wrong' }))
  assert.equal((closed() as Error & { code: string }).code, 'E_AUTH', 'the token is checked inside TLS')
})

test('STARTTLS: a failed TLS handshake is E_STARTTLS_HANDSHAKE; one still not up at the hello limit ends the session too', async () => {
  const up = upgrader()
  const failed = setup({ side: 'client', wire: protobuf, starttls: up.starttls })
  failed.conn.push(encodeServerReply(true, '', 1))
  up.calls[0]!.reject(new Error('server certificate rejected'))
  await settle()
  assert.equal((failed.closed() as Error & { code: string }).code, 'E_STARTTLS_HANDSHAKE')
  assert.match((failed.closed() as Error).message, /STARTTLS with 192\.0\.2\.7:4000: server certificate rejected/)

  const slow = upgrader()
  const { clock, conn, session, closed } = setup({ side: 'server', wire: protobuf, starttls: slow.starttls })
  conn.push(encodeClientHello({ codec: 'protobuf', flags: 1 }))
  clock.advance(10_000)
  assert.equal(session.state, 'closing')
  assert.equal((closed() as Error & { code: string }).code, 'E_STARTTLS_HANDSHAKE')
  // The upgrade finishing after the end is closed at once.
  const late = new FakeConn()
  slow.calls[0]!.resolve(late)
  await settle()
  assert.ok(late.destroyed)
})
