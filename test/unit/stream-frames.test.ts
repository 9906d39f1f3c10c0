/**
 * The stream frames of docs/wire-protocol.md#tcp-streams, written exactly as the multiplexer
 * writes them, round-trip through every edgerelay codec (the property tests in codecs.test.ts
 * cover the fields in general; this pins the layout the streams use).
 */
import assert from 'node:assert/strict'
import { StreamCode } from '../../src/core/streams/codes.ts'
import { INITIAL_WINDOW, MAX_CREDIT } from '../../src/core/streams/flow-control.ts'
import { codecByName } from '../../src/protocol/codecs/index.ts'
import { Kind, MAX_PAYLOAD, type Frame } from '../../src/protocol/frame.ts'
import { test } from '../harness.ts'

const EMPTY = new Uint8Array(0)
const frames: [string, Frame][] = [
  ['open with a destination and a source', { flow: 1, id: INITIAL_WINDOW, kind: Kind.open, payload: EMPTY, dst: 'db.internal:5432', src: '127.0.0.1:51234' }],
  ['open to an IPv6 destination', { flow: 3, id: 16384, kind: Kind.open, payload: EMPTY, dst: '[2001:db8::1]:22' }],
  ['open without a destination (tcp/connect)', { flow: 0xffff_ffff, id: INITIAL_WINDOW, kind: Kind.open, payload: EMPTY }],
  ['accept naming the far end', { flow: 1, id: 1 << 20, kind: Kind.open, payload: EMPTY, src: '10.0.0.2:40122' }],
  ['data, one byte', { flow: 2, id: 0, kind: Kind.data, payload: new Uint8Array([0]) }],
  ['data, 65,535 bytes', { flow: 2, id: 0, kind: Kind.data, payload: new Uint8Array(MAX_PAYLOAD).map((_, i) => i & 0xff) }],
  ['window update, the largest', { flow: 5, id: MAX_CREDIT, kind: Kind.window, payload: EMPTY }],
  ['close: FIN', { flow: 5, id: StreamCode.fin, kind: Kind.close, payload: EMPTY }],
  ['close: refused, with the reason', { flow: 7, id: StreamCode.not_allowed, kind: Kind.close, payload: EMPTY, error: "10.9.0.1:22 is not allowed by this half's --allow (entry '!10.9.0.0/16')" }],
  ['close: an unknown future code', { flow: 7, id: 0xffff_ffff, kind: Kind.close, payload: EMPTY, error: '' }],
]

for (const codec of ['protobuf', 'avro', 'msgpack']) {
  test(`stream frames round-trip exactly (${codec})`, () => {
    const c = codecByName(codec)
    for (const [what, frame] of frames) {
      const back = c.decode(c.encode(frame))
      assert.deepEqual({ ...back, payload: [...back.payload] }, { ...frame, payload: [...frame.payload] }, what)
    }
  })
}
