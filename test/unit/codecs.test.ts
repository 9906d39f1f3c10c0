import assert from 'node:assert/strict'
import fc from 'fast-check'
import { isRelayError } from '../../src/base/errors.ts'
import { type Frame, Kind, MAX_PAYLOAD } from '../../src/protocol/frame.ts'
import { avroCodec } from '../../src/protocol/codecs/avro.ts'
import { CODEC_NAMES, codecByName } from '../../src/protocol/codecs/index.ts'
import { msgpackCodec } from '../../src/protocol/codecs/msgpack.ts'
import { protobufCodec } from '../../src/protocol/codecs/protobuf.ts'
import type { Codec } from '../../src/protocol/codecs/types.ts'
import {
  encodeUhppoted,
  encodeUhppotedInto,
  UHPPOTED_HEADER,
  UHPPOTED_MAX_PAYLOAD,
  uhppotedCodec,
} from '../../src/protocol/codecs/uhppoted.ts'
import { test } from '../harness.ts'
import { hex } from '../helpers/bytes.mjs'
import { edgeFrames, filled, frame, payload, u32 } from '../helpers/codec-frames.ts'

const fullCodecs: Codec[] = [protobufCodec, avroCodec, msgpackCodec]
const RUNS = { numRuns: 200 }


/** Encodes with all three entry points and checks they agree before decoding. */
function roundTrip(codec: Codec, f: Frame): Frame {
  const bytes = codec.encode(f)
  assert.equal(codec.encodedLength(f), bytes.length)
  const offset = 3
  const out = new Uint8Array(offset + bytes.length + 2).fill(0xee)
  assert.equal(codec.encodeInto(f, out, offset), offset + bytes.length)
  assert.deepEqual(out.subarray(offset, offset + bytes.length), bytes)
  assert.deepEqual([...out.subarray(0, offset), ...out.subarray(offset + bytes.length)], [0xee, 0xee, 0xee, 0xee, 0xee])
  return codec.decode(bytes)
}

const isEncodeError = (err: unknown) => isRelayError(err, 'E_FRAME_ENCODE')

for (const codec of fullCodecs) {
  test(`${codec.name}: random frames round-trip exactly, absent optionals stay absent`, () => {
    fc.assert(fc.property(frame, (f) => assert.deepStrictEqual(roundTrip(codec, f), f)), RUNS)
  })

  test(`${codec.name}: empty and 65,535-byte payloads, u32 extremes, every kind and empty strings round-trip`, () => {
    for (const f of edgeFrames) assert.deepStrictEqual(roundTrip(codec, f), f)
  })

  test(`${codec.name}: an empty string is kept as present, a leading BOM is kept`, () => {
    const f: Frame = { flow: 1, id: 1, kind: Kind.event, payload: new Uint8Array(0), src: '', error: '\ufeff' }
    const back = roundTrip(codec, f)
    assert.equal(back.src, '')
    assert.equal(back.error, '\ufeff')
    assert.equal('dst' in back, false)
  })

  test(`${codec.name}: lone surrogates, which UTF-8 cannot hold, are sent as U+FFFD like TextEncoder does`, () => {
    const f: Frame = { flow: 1, id: 1, kind: Kind.error, payload: new Uint8Array(0), error: 'a\ud800b\udc00c\ud83d' }
    assert.equal(roundTrip(codec, f).error, 'a\ufffdb\ufffdc\ufffd')
  })

  test(`${codec.name}: refuses frames the wire cannot carry with E_FRAME_ENCODE`, () => {
    const ok: Frame = { flow: 1, id: 1, kind: Kind.request, payload: new Uint8Array(1) }
    const bad: Record<string, unknown>[] = [
      { flow: -1 },
      { flow: 2 ** 32 },
      { flow: 1.5 },
      { flow: Number.NaN },
      { id: -1 },
      { id: 2 ** 32 },
      { kind: 0 },
      { kind: 11 },
      { payload: new Uint8Array(MAX_PAYLOAD + 1) },
      { payload: [1, 2, 3] },
      { src: 42 },
      { error: null },
    ]
    for (const patch of bad) {
      const f = { ...ok, ...patch } as Frame
      assert.throws(() => codec.encode(f), isEncodeError, JSON.stringify(patch))
      assert.throws(() => codec.encodedLength(f), isEncodeError, JSON.stringify(patch))
      assert.throws(() => codec.encodeInto(f, new Uint8Array(100_000), 0), isEncodeError, JSON.stringify(patch))
    }
  })

  test(`${codec.name}: encodeInto refuses a buffer too small and leaves it untouched`, () => {
    const f: Frame = { flow: 1, id: 1, kind: Kind.request, payload: filled(10), src: 'x' }
    const need = codec.encodedLength(f)
    const out = new Uint8Array(need + 4)
    assert.throws(
      () => codec.encodeInto(f, out, 5),
      (err) => isEncodeError(err) && /needs \d+ bytes at offset 5/.test(String(err)),
    )
    assert.throws(() => codec.encodeInto(f, out, -1), isEncodeError)
    assert.deepEqual(out, new Uint8Array(need + 4))
    assert.equal(codec.encodeInto(f, out, 4), need + 4)
  })
}

test('protobuf: exact bytes; zero flow and id and an empty payload are omitted (proto3 defaults)', () => {
  const f: Frame = { flow: 1, id: 300, kind: Kind.request, payload: new Uint8Array([1, 2]) }
  assert.deepEqual(protobufCodec.encode(f), hex('08 01 10 ac02 18 01 22 02 0102'))
  assert.deepEqual(protobufCodec.encode({ flow: 0, id: 0, kind: Kind.ping, payload: new Uint8Array(0) }), hex('18 07'))
  const strings: Frame = { flow: 0, id: 0, kind: Kind.error, payload: new Uint8Array(0), src: '', dst: 'a', error: 'é' }
  assert.deepEqual(protobufCodec.encode(strings), hex('18 09 2a 00 32 01 61 3a 02 c3a9'))
})

test('protobuf: decodes fields in any order, skips unknown fields of wire types 0, 1, 2 and 5, last value wins', () => {
  const bytes = hex(
    [
      '3a 02 6869', // error 'hi'
      '22 01 aa', // payload
      'c8 3e 96 01', // field 1001 varint 150
      '18 02', // kind reply
      '41 0102030405060708', // field 8 fixed64
      '10 05', // id 5
      '4a 03 010203', // field 9 bytes
      '55 01020304', // field 10 fixed32
      '08 ff ff ff ff 0f', // flow 0xffffffff
      '58 ff ff ff ff ff ff ff ff ff 01', // field 11 varint, 10 bytes
      '10 07', // id again: last wins
      '2a 00', // src ''
    ].join(''),
  )
  assert.deepStrictEqual(protobufCodec.decode(bytes), {
    flow: 0xffffffff,
    id: 7,
    kind: Kind.reply,
    payload: new Uint8Array([0xaa]),
    src: '',
    error: 'hi',
  })
})

test('protobuf: accepts explicit zero fields and multi-byte encodings of small tags (as other encoders may send)', () => {
  assert.deepStrictEqual(protobufCodec.decode(hex('08 00 10 00 18 01 22 00')), {
    flow: 0,
    id: 0,
    kind: Kind.request,
    payload: new Uint8Array(0),
  })
  assert.deepStrictEqual(protobufCodec.decode(hex('98 00 03 88 80 00 81 00')), {
    flow: 1,
    id: 0,
    kind: Kind.event,
    payload: new Uint8Array(0),
  })
})

test('avro: exact bytes (zig-zag longs, enum index, union branches)', () => {
  const f: Frame = { flow: 1, id: 300, kind: Kind.request, payload: new Uint8Array([1, 2]) }
  assert.deepEqual(avroCodec.encode(f), hex('02 d804 02 04 0102 00 00 00'))
  const g: Frame = { flow: 0xffffffff, id: 0, kind: Kind.error, payload: new Uint8Array(0), dst: '', error: 'é' }
  assert.deepEqual(avroCodec.encode(g), hex('feffffff1f 00 12 00 00 02 00 02 04 c3a9'))
})

test('msgpack: exact bytes, smallest forms, trailing absent strings left out, inner ones nil', () => {
  const f: Frame = { flow: 1, id: 300, kind: Kind.request, payload: new Uint8Array([1, 2]) }
  assert.deepEqual(msgpackCodec.encode(f), hex('94 01 cd012c 01 c4 02 0102'))
  const g: Frame = { flow: 0xffffffff, id: 0x10000, kind: Kind.error, payload: new Uint8Array(0), error: 'é' }
  assert.deepEqual(msgpackCodec.encode(g), hex('97 ceffffffff ce00010000 09 c400 c0 c0 a2c3a9'))
  assert.deepEqual(
    msgpackCodec.encode({ ...f, flow: 200, payload: new Uint8Array(0), src: 'x'.repeat(32) }).subarray(0, 13),
    hex('95 ccc8 cd012c 01 c400 d920 7878'),
  )
  const long = msgpackCodec.encode({ ...f, payload: filled(256) })
  assert.deepEqual(long.subarray(0, 9), hex('94 01 cd012c 01 c5 0100'))
})

test('msgpack: decodes every int, bin and str width and array16/32 headers, trailing nils mean absent', () => {
  const bytes = hex(
    [
      'dc 0007', // array 16 of 7
      'cf 00000000 ffffffff', // flow as uint 64
      'd0 05', // id as int 8
      'd2 00000002', // kind as int 32
      'c6 00000002 0a0b', // payload as bin 32
      'db 00000001 61', // src as str 32
      'da 0000', // dst as str 16, empty
      'c0', // error nil
    ].join(''),
  )
  assert.deepStrictEqual(msgpackCodec.decode(bytes), {
    flow: 0xffffffff,
    id: 5,
    kind: Kind.reply,
    payload: new Uint8Array([0x0a, 0x0b]),
    src: 'a',
    dst: '',
  })
  const more = hex('dd 00000005 cc 01 cd 0002 d3 00000000 00000003 c5 0001 ff d9 01 62')
  assert.deepStrictEqual(msgpackCodec.decode(more), {
    flow: 1,
    id: 2,
    kind: Kind.event,
    payload: new Uint8Array([0xff]),
    src: 'b',
  })
  assert.deepStrictEqual(msgpackCodec.decode(hex('97 00 d1 0000 01 c4 00 c0 c0 c0')), {
    flow: 0,
    id: 0,
    kind: Kind.request,
    payload: new Uint8Array(0),
  })
})

test('uhppoted: id and payload round-trip; decode gives flow 0 and kind request', () => {
  fc.assert(
    fc.property(u32, payload, (id, p) => {
      const bytes = encodeUhppoted(id, p)
      assert.equal(bytes.length, UHPPOTED_HEADER + p.length)
      assert.deepEqual(uhppotedCodec.encode({ flow: 9, id, kind: Kind.reply, payload: p, src: 'dropped' }), bytes)
      const out = new Uint8Array(bytes.length + 4)
      assert.equal(encodeUhppotedInto(id, p, out, 2), bytes.length + 2)
      assert.deepEqual(out.subarray(2, 2 + bytes.length), bytes)
      assert.deepStrictEqual(uhppotedCodec.decode(bytes), { flow: 0, id, kind: Kind.request, payload: p })
    }),
    RUNS,
  )
  for (const f of edgeFrames) {
    assert.deepStrictEqual(roundTrip(uhppotedCodec, f), { flow: 0, id: f.id, kind: Kind.request, payload: f.payload })
  }
})

test('uhppoted: bytes match uhppoted-tunnel protocol/message.go (its Packetize test vector)', () => {
  const message = hex('0123456789abcdef')
  const expected = hex('0008 00003039 0123456789abcdef')
  assert.deepEqual(encodeUhppoted(12345, message), expected)
  assert.deepStrictEqual(uhppotedCodec.decode(expected), { flow: 0, id: 12345, kind: Kind.request, payload: message })
  assert.deepEqual(encodeUhppoted(0xffffffff, filled(UHPPOTED_MAX_PAYLOAD)).subarray(0, 6), hex('ffff ffffffff'))
})

test('uhppoted: refuses ids outside u32, payloads over 65,535 bytes and short buffers', () => {
  assert.throws(() => encodeUhppoted(-1, new Uint8Array(1)), isEncodeError)
  assert.throws(() => encodeUhppoted(2 ** 32, new Uint8Array(1)), isEncodeError)
  assert.throws(() => encodeUhppoted(1, new Uint8Array(UHPPOTED_MAX_PAYLOAD + 1)), isEncodeError)
  assert.throws(
    () => uhppotedCodec.encodedLength({ flow: 0, id: 1, kind: 1, payload: new Uint8Array(UHPPOTED_MAX_PAYLOAD + 1) }),
    isEncodeError,
  )
  assert.throws(() => encodeUhppotedInto(1, new Uint8Array(4), new Uint8Array(9), 0), isEncodeError)
})

test('codecByName returns each codec by its name and refuses others with E_UNKNOWN_CODEC', () => {
  assert.deepEqual([...CODEC_NAMES], ['protobuf', 'avro', 'msgpack', 'uhppoted'])
  for (const name of CODEC_NAMES) assert.equal(codecByName(name).name, name)
  for (const name of ['json', 'Protobuf', '', 'toString', '__proto__', 'hasOwnProperty']) {
    assert.throws(
      () => codecByName(name),
      (err) => isRelayError(err, 'E_UNKNOWN_CODEC') && /protobuf, avro, msgpack, uhppoted/.test(err.message),
      name,
    )
  }
})
