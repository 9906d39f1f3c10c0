import assert from 'node:assert/strict'
import fc from 'fast-check'
import { codecByName } from '../../src/protocol/codecs/index.ts'
import { Kind, type Frame } from '../../src/protocol/frame.ts'
import { lengthPrefixedWire, uhppotedWire, type Wire } from '../../src/protocol/wire.ts'
import { concat } from '../helpers/bytes.mjs'
import { test } from '../harness.ts'
import { frame as arbFrame } from '../helpers/codec-frames.ts'

const WIRES: Wire[] = [...['protobuf', 'avro', 'msgpack'].map((n) => lengthPrefixedWire(codecByName(n))), uhppotedWire]

/** What survives a wire: uhppoted framing carries only id and payload. */
function visible(w: Wire, f: Frame) {
  return w.carriesFlows ? { ...f, payload: [...f.payload] } : { id: f.id, payload: [...f.payload] }
}

for (const w of WIRES) {
  test(`${w.name} stream: any frames cut at any points are reassembled exactly`, () => {
    fc.assert(
      fc.property(fc.array(arbFrame, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 12 }), (frames, cuts) => {
        const usable = frames.filter((f) => f.payload.length > 0 || w.carriesFlows)
        const bytes = concat(usable.map((f) => w.encode(f)))
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
        const got: Frame[] = []
        const reader = w.reader((f) => got.push({ ...f, payload: f.payload.slice() }), Kind.request)
        let last = 0
        for (const p of [...points, bytes.length]) {
          reader.push(bytes.subarray(last, p))
          last = p
        }
        assert.deepEqual(got.map((f) => visible(w, f)), usable.map((f) => visible(w, f)))
        assert.equal(reader.buffered, 0)
      }),
      { numRuns: 150 },
    )
  })
}

test('a length field over the frame limit is refused before any body arrives', () => {
  const reader = lengthPrefixedWire(codecByName('protobuf')).reader(() => assert.fail('no frame expected'), Kind.request)
  assert.throws(() => reader.push(Uint8Array.of(0x00, 0x02, 0x00, 0x00)), (e: Error & { code?: string }) => e.code === 'E_FRAME_TOO_LARGE')
})

test('a zero length field is refused', () => {
  const reader = lengthPrefixedWire(codecByName('protobuf')).reader(() => assert.fail('no frame expected'), Kind.request)
  assert.throws(() => reader.push(Uint8Array.of(0, 0, 0, 0)), (e: Error & { code?: string }) => e.code === 'E_FRAME_EMPTY')
})

test('a reader holds a partial frame without decoding it', () => {
  const w = lengthPrefixedWire(codecByName('protobuf'))
  const bytes = w.encode({ flow: 1, id: 2, kind: Kind.request, payload: new Uint8Array(1000).fill(7) })
  const got: Frame[] = []
  const reader = w.reader((f) => got.push(f), Kind.request)
  reader.push(bytes.subarray(0, 500))
  assert.equal(got.length, 0)
  assert.equal(reader.buffered, 500)
  reader.push(bytes.subarray(500))
  assert.equal(got.length, 1)
  assert.equal(got[0]!.payload.length, 1000)
})

test('every codec encodes with headroom exactly what encode() gives, after untouched leading bytes', () => {
  const codecs = [...['protobuf', 'avro', 'msgpack', 'uhppoted'].map((n) => codecByName(n))]
  fc.assert(
    fc.property(arbFrame, fc.integer({ min: 0, max: 8 }), (frame, headroom) => {
      for (const codec of codecs) {
        const f = codec.name === 'uhppoted' && frame.payload.length === 0 ? { ...frame, payload: Uint8Array.of(1) } : frame
        const out = codec.encodeWithHeadroom(f, headroom)
        assert.deepEqual(out.subarray(0, headroom), new Uint8Array(headroom))
        assert.deepEqual(out.subarray(headroom), codec.encode(f))
      }
    }),
    { numRuns: 100 },
  )
})
