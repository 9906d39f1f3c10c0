/**
 * Whatever a peer sends, decode either returns a valid Frame or throws RelayError E_FRAME_DECODE:
 * never another error, never a hang, never a frame the encoders would refuse.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { isRelayError } from '../../src/base/errors.ts'
import { type Frame, isKind, Kind, MAX_PAYLOAD } from '../../src/protocol/frame.ts'
import { avroCodec } from '../../src/protocol/codecs/avro.ts'
import { msgpackCodec } from '../../src/protocol/codecs/msgpack.ts'
import { protobufCodec } from '../../src/protocol/codecs/protobuf.ts'
import type { Codec } from '../../src/protocol/codecs/types.ts'
import { uhppotedCodec } from '../../src/protocol/codecs/uhppoted.ts'
import { test } from '../harness.ts'
import { hex, toHex } from '../helpers/bytes.mjs'
import { filled, frame } from '../helpers/codec-frames.ts'

const codecs: Codec[] = [protobufCodec, avroCodec, msgpackCodec, uhppotedCodec]
const isU32 = (n: number) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff

/** Decodes and checks the outcome is one of the two allowed ones; returns the frame or undefined. */
function decodeOrRefuse(codec: Codec, bytes: Uint8Array): Frame | undefined {
  let f: Frame
  try {
    f = codec.decode(bytes)
  } catch (err) {
    if (isRelayError(err, 'E_FRAME_DECODE')) return undefined
    throw err
  }
  assert.ok(isU32(f.flow) && isU32(f.id) && isKind(f.kind), 'decoded header out of range')
  assert.ok(f.payload instanceof Uint8Array && f.payload.length <= MAX_PAYLOAD, 'decoded payload invalid')
  for (const key of ['src', 'dst', 'error'] as const) assert.ok(f[key] === undefined || typeof f[key] === 'string')
  // Anything we accept we can send on again.
  codec.encode(f)
  return f
}

function refuses(codec: Codec, bytes: Uint8Array, message?: RegExp): void {
  assert.throws(
    () => codec.decode(bytes),
    (err) => isRelayError(err, 'E_FRAME_DECODE') && (!message || message.test(err.message)),
    `${codec.name} should refuse ${toHex(bytes)}`,
  )
}

for (const codec of codecs) {
  test(`${codec.name}: random bytes decode to a valid frame or E_FRAME_DECODE, nothing else`, () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => void decodeOrRefuse(codec, b)), { numRuns: 2000 })
  })

  test(`${codec.name}: valid frames with bytes changed, cut or added decode to a valid frame or E_FRAME_DECODE`, () => {
    const mutated = fc.tuple(
      frame,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      fc.nat(),
      fc.uint8Array({ maxLength: 4 }),
    )
    fc.assert(
      fc.property(mutated, ([f, changes, cut, extra]) => {
        const bytes = codec.encode(f)
        for (const [at, value] of changes) if (bytes.length) bytes[at % bytes.length] = value
        const end = cut % (bytes.length + 1)
        decodeOrRefuse(codec, bytes.subarray(0, end))
        decodeOrRefuse(codec, Uint8Array.from([...bytes, ...extra]))
      }),
      { numRuns: 300 },
    )
  })

  test(`${codec.name}: empty input is refused`, () => refuses(codec, new Uint8Array(0)))
}

// Protobuf has no end marker: a cut between fields is a valid shorter message, so only cuts inside
// a field must fail. The other formats must refuse every proper prefix and any trailing byte.
for (const codec of [avroCodec, msgpackCodec, uhppotedCodec]) {
  test(`${codec.name}: every truncation and any trailing byte is refused`, () => {
    const f: Frame = { flow: 70_000, id: 300, kind: Kind.reply, payload: filled(40), src: '10.0.0.1:60000', error: 'é' }
    const bytes = codec.encode(f)
    for (let end = 0; end < bytes.length; end++) refuses(codec, bytes.subarray(0, end), /./)
    refuses(codec, Uint8Array.from([...bytes, 0]), codec === uhppotedCodec ? /length field says/ : /trailing/)
  })
}

test('protobuf: truncated fields, bad varints, bad wire types and bad kinds are refused with a reason', () => {
  const cases: [string, RegExp][] = [
    ['08', /truncated flow varint at byte 1/],
    ['08 80 80', /truncated flow varint/],
    ['08 80 80 80 80 10 18 01', /flow varint at byte 1 does not fit in 32 bits/],
    ['08 ff ff ff ff ff 01 18 01', /does not fit in 32 bits/],
    ['18 01 22 05 0102', /payload at byte 3 claims 5 bytes but only 2 remain/],
    ['18 01 22 ff ff ff ff 0f', /claims 4294967295 bytes/],
    ['18 01 2a 02 61', /src at byte 3 claims 2 bytes but only 1 remain/],
    ['18 01 2a 02 c3 28', /src at byte 4 is not valid UTF-8/],
    ['18 01 32 01 ff', /dst .* not valid UTF-8/],
    ['18 01 3a 03 ed a0 80', /error .* not valid UTF-8/], // an encoded surrogate is not UTF-8
    ['18 01 00', /field number 0 at byte 2 is invalid/],
    ['18 01 0a 00', /field 1 \(flow\) at byte 2 has wire type 2, expected 0/],
    ['18 01 20 01', /field 4 \(payload\) at byte 2 has wire type 0, expected 2/],
    ['18 01 43', /field 8 at byte 2 is a group \(wire type 3\)/],
    ['18 01 44', /group \(wire type 4\)/],
    ['18 01 46', /invalid wire type 6/],
    ['18 01 47', /invalid wire type 7/],
    ['18 01 40 80 80', /truncated varint of field 8/],
    ['18 01 40 ff ff ff ff ff ff ff ff ff 02', /longer than 64 bits/],
    ['18 01 40 ff ff ff ff ff ff ff ff ff ff 01', /longer than 64 bits/],
    ['18 01 41 0102030405', /truncated 64-bit field 8/],
    ['18 01 45 0102', /truncated 32-bit field 8/],
    ['18 01 4a 03 01', /field 9 at byte 3 claims 3 bytes/],
    ['18 01 80', /truncated field tag varint/],
    ['', /kind is missing/],
    ['08 01 22 01 00', /kind is missing/],
    ['18 00', /kind is missing/],
    ['18 0b', /kind 11 is not a known Kind value/],
    ['18 ff ff ff ff 0f', /kind 4294967295 is not a known Kind/],
  ]
  for (const [bytes, message] of cases) refuses(protobufCodec, hex(bytes), message)
  const big = new Uint8Array(4 + MAX_PAYLOAD + 1)
  big.set(hex('22 80 80 04'))
  refuses(protobufCodec, big, /payload of 65536 bytes at byte 0 exceeds 65535/)
})

test('avro: out-of-range integers, bad enum indexes and union branches, and bad lengths are refused with a reason', () => {
  const tail = '02 00 00 00 00' // kind request, empty payload, three nulls
  const cases: [string, RegExp][] = [
    [`01 00 ${tail}`, /flow -1 at byte 0 is not in 0\.\.4294967295/],
    [`00 03 ${tail}`, /id -2 at byte 1/],
    [`80 80 80 80 20 00 ${tail}`, /flow 4294967296 at byte 0 is not in/],
    [`80 80 80 80 80 01 00 ${tail}`, /flow at byte 0 is out of range/],
    ['00 00 00 00 00 00 00', /kind is missing \(0, KIND_UNSPECIFIED\)/],
    ['00 00 16 00 00 00 00', /kind index 11 at byte 2 is not a Kind symbol/],
    ['00 00 01 00 00 00 00', /kind index -1/],
    ['00 00 02 01 00 00 00', /payload length at byte 3 is negative \(-1\)/],
    ['00 00 02 06 0102', /payload at byte 3 claims 3 bytes but only 2 remain/],
    ['00 00 02 00 04 00 00', /src at byte 4 has union branch byte 0x4, expected 0 \(null\) or 2 \(string\)/],
    ['00 00 02 00 01 00 00', /union branch byte 0x1/],
    ['00 00 02 00 00 02 03 00', /dst length at byte 6 is negative/],
    ['00 00 02 00 00 00 02 02 ff', /error at byte 8 is not valid UTF-8/],
    ['00 00 02 00 00 00', /truncated error at byte 6/],
    ['00 00 02 00 00 00 00 00', /1 trailing bytes after the frame at byte 7/],
    ['00 00 02', /truncated payload length/],
    ['00 00 02 80', /truncated payload length/],
  ]
  for (const [bytes, message] of cases) refuses(avroCodec, hex(bytes), message)
  const big = new Uint8Array(3 + 3 + MAX_PAYLOAD + 1 + 3)
  big.set(hex('00 00 02 80 80 08')) // payload length 65,536
  refuses(avroCodec, big, /payload of 65536 bytes at byte 3 exceeds 65535/)
})

test('msgpack: wrong types, counts and ranges are refused with a reason', () => {
  const cases: [string, RegExp][] = [
    ['80', /frame is a map, expected an array/],
    ['a1 61', /frame is a str, expected an array/],
    ['93 01 01 01', /array of 3 elements, expected 4 to 7/],
    ['98 01 01 01 c4 00 c0 c0 c0 c0', /array of 8 elements/],
    ['dc 00', /truncated array length at byte 0/],
    ['dd 00 00 00 03', /array of 3 elements/],
    ['94 ff 00 01 c4 00', /flow at byte 1 is a negative int, expected an unsigned integer/],
    ['94 d0 ff 00 01 c4 00', /flow at byte 1 is negative \(-1\)/],
    ['94 d2 80 00 00 00 00 01 c4 00', /flow at byte 1 is negative/],
    ['94 d3 ff ff ff ff ff ff ff ff 00 01 c4 00', /flow at byte 1 is not in 0\.\.4294967295/],
    ['94 cf 00 00 00 01 00 00 00 00 00 01 c4 00', /flow at byte 1 is not in 0\.\.4294967295/],
    ['94 00 ca 00 00 00 00 01 c4 00', /id at byte 2 is a float/],
    ['94 00 c3 01 c4 00', /id at byte 2 is true/],
    ['94 00 00 c0 c4 00', /kind at byte 3 is nil/],
    ['94 00 00 00 c4 00', /kind is missing/],
    ['94 00 00 0b c4 00', /kind 11 at byte 3 is not a known Kind value/],
    ['94 00 00 01 a1 61', /payload at byte 4 is a str, expected bin/],
    ['94 00 00 01 d4 00 00', /payload at byte 4 is an ext, expected bin/],
    ['94 00 00 01 c4 05 01', /payload at byte 4 claims 5 bytes but only 1 remain/],
    ['94 00 00 01 c6 ff ff ff ff', /claims 4294967295 bytes/],
    ['94 00 00 01 c5 00', /truncated payload at byte 4/],
    ['95 00 00 01 c4 00 c4 00', /src at byte 6 is a bin, expected str or nil/],
    ['95 00 00 01 c4 00 d4 00 00', /src at byte 6 is an ext/], // msgpackr's `undefined`
    ['95 00 00 01 c4 00 a2 c3', /src at byte 6 claims 2 bytes but only 1 remain/],
    ['95 00 00 01 c4 00 a1 80', /src at byte 7 is not valid UTF-8/],
    ['96 00 00 01 c4 00 c0 c1', /dst at byte 7 is the never-used byte 0xc1/],
    ['97 00 00 01 c4 00 c0 c0 90', /error at byte 8 is an array/],
    ['95 00 00 01 c4 00', /truncated src at byte 6/],
    ['94 00 00 01 c4 00 c0', /1 trailing bytes after the frame at byte 6/],
  ]
  for (const [bytes, message] of cases) refuses(msgpackCodec, hex(bytes), message)
  const big = new Uint8Array(4 + 5 + MAX_PAYLOAD + 1)
  big.set(hex('94 00 00 01 c6 00 01 00 00'))
  refuses(msgpackCodec, big, /payload of 65536 bytes at byte 4 exceeds 65535/)
})

test('uhppoted: a short header or a length field that disagrees with the byte count is refused', () => {
  refuses(uhppotedCodec, hex('0008 000030'), /5 bytes is shorter than the 6-byte header/)
  refuses(uhppotedCodec, hex('0008 00003039 0123'), /length field says 8 payload bytes but 2 follow the header/)
  refuses(uhppotedCodec, hex('0001 00003039 0123'), /length field says 1 payload bytes but 2 follow/)
  assert.deepStrictEqual(uhppotedCodec.decode(hex('0000 ffffffff')), {
    flow: 0,
    id: 0xffffffff,
    kind: Kind.request,
    payload: new Uint8Array(0),
  })
})
