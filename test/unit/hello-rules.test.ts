import assert from 'node:assert/strict'
import { detectFraming, judgeClientHello, judgeServerReply, sniffMistakenHello, UHPPOTED_FIRST_FRAME_MAX } from '../../src/core/tunnel/hello-rules.ts'
import { encodeClientHello, FLAG_STARTTLS } from '../../src/protocol/hello.ts'
import { uhppotedWire } from '../../src/protocol/wire.ts'
import { wireFor } from '../../src/protocol/wire-for.ts'
import { test } from '../harness.ts'

// The hello phase's decisions without a connection: session.test.ts and the conformance suites
// run them through real sessions; here every branch is checked on its own.

const protobuf = wireFor('protobuf')

test('detectFraming: waits for enough bytes, tells a hello from uhppoted-tunnel frames, refuses the rest with what it saw', () => {
  const hello = encodeClientHello({ codec: 'protobuf' })
  assert.equal(detectFraming(hello.subarray(0, 3), uhppotedWire), 'wait')
  assert.equal(detectFraming(hello, uhppotedWire), 'hello')
  assert.equal(detectFraming(Uint8Array.of(0x00), uhppotedWire), 'wait')
  assert.equal(detectFraming(Uint8Array.of(0x00, 0x40, 0, 0, 0, 1, 0x17), uhppotedWire), 'uhppoted')
  assert.throws(() => detectFraming(Uint8Array.of(0x00, 0x40, 0, 0), undefined), { code: 'E_HELLO_MAGIC', message: /requires a token/ })
  const tls = Uint8Array.of(0x16, 0x03, 0x01, 0x02)
  assert.ok((tls[0]! << 8 | tls[1]!) > UHPPOTED_FIRST_FRAME_MAX)
  assert.throws(() => detectFraming(tls, uhppotedWire), { code: 'E_HELLO_MAGIC', message: /16 03 01 02 are neither .*\(length 5635,/ })
  assert.throws(() => detectFraming(Uint8Array.of(0, 0, 1, 2), uhppotedWire), { code: 'E_HELLO_MAGIC', message: /length 0/ })
})

test('judgeClientHello: STARTTLS required or unexpected, codec mismatch, token, and acceptance', () => {
  const settings = { plainHello: false, wireFor: (c: string) => (c === 'protobuf' ? protobuf : undefined), speaks: "'protobuf'", token: 'secret' }
  const hello = (over: Partial<{ codec: string; flags: number; token: string }>) => ({ version: 1, codec: 'protobuf', flags: 0, ...over })
  assert.deepEqual(judgeClientHello(hello({ token: 'secret' }), settings), { accept: protobuf, starttls: false })
  assert.deepEqual(judgeClientHello(hello({ token: 'nope' }), settings), { refuse: 'wrong token', code: 'E_AUTH' })
  assert.deepEqual(judgeClientHello(hello({}), settings), { refuse: 'a token is required', code: 'E_AUTH' })
  assert.equal((judgeClientHello(hello({ codec: 'avro', token: 'secret' }), settings) as { code: string }).code, 'E_CODEC_MISMATCH')
  assert.equal((judgeClientHello(hello({ flags: FLAG_STARTTLS, token: 'secret' }), settings) as { code: string }).code, 'E_STARTTLS_REFUSED')
  const plain = { ...settings, plainHello: true }
  assert.deepEqual(judgeClientHello(hello({}), plain), { refuse: (judgeClientHello(hello({}), plain) as { refuse: string }).refuse, code: 'E_STARTTLS_REQUIRED', starttlsMissing: true })
  // The plain hello of STARTTLS carries no token: it is checked in the hello inside TLS.
  assert.deepEqual(judgeClientHello(hello({ flags: FLAG_STARTTLS }), plain), { accept: protobuf, starttls: true })
})

test('judgeServerReply: a refusal keeps its code, STARTTLS must be agreed exactly when offered', () => {
  const reply = (accepted: boolean, flags = 0, reason = '') => ({ version: 1, accepted, flags, reason })
  assert.equal(judgeServerReply(reply(true), false, 'far'), 'open')
  assert.equal(judgeServerReply(reply(true, FLAG_STARTTLS), true, 'far'), 'upgrade')
  assert.throws(() => judgeServerReply(reply(false, 0, 'wrong token'), false, 'far'), { code: 'E_AUTH', message: /server refused the tunnel: wrong token/ })
  assert.throws(() => judgeServerReply(reply(false, 0, "codec mismatch: ..."), false, 'far'), { code: 'E_CODEC_MISMATCH' })
  assert.throws(() => judgeServerReply(reply(true), true, 'far'), { code: 'E_STARTTLS_REFUSED', message: /not sending anything in plain text/ })
  assert.throws(() => judgeServerReply(reply(true, FLAG_STARTTLS), false, 'far'), { code: 'E_STARTTLS_PROTOCOL' })
})

test('sniffMistakenHello: a uhppoted-framing server names the codec an edgerelay client asked for; frames pass', () => {
  const hello = encodeClientHello({ codec: 'msgpack' })
  assert.equal(sniffMistakenHello(hello.subarray(0, 5)), 'wait')
  assert.deepEqual(sniffMistakenHello(hello), { refuse: "codec mismatch: this half speaks uhppoted-tunnel framing (--codec uhppoted), the client asked for 'msgpack'" })
  assert.equal(sniffMistakenHello(Uint8Array.of(0x00, 0x40, 0, 0, 0, 1, 0x17)), 'frames')
})
