/**
 * fast-check arbitraries for Frames, shared by the codec tests. Sizes are biased small so a
 * property run stays quick on every runtime, with the edges (0, 0xffffffff, empty and 65,535-byte
 * payloads, varint and length-form boundaries) always in the mix.
 */
import fc from 'fast-check'
import { type Frame, Kind, MAX_PAYLOAD } from '../../src/protocol/frame.ts'

/** u32 values on every varint, zig-zag and MessagePack width boundary, plus the full range. */
export const u32Edges = [
  0,
  1,
  0x3f,
  0x40,
  0x7f,
  0x80,
  0xff,
  0x100,
  0x1fff,
  0x2000,
  0x3fff,
  0x4000,
  0xffff,
  0x10000,
  0xfffff,
  0x100000,
  0x1fffff,
  0x200000,
  0x7ffffff,
  0x8000000,
  0xfffffff,
  0x10000000,
  0x7fffffff,
  0x80000000,
  0xfffffffe,
  0xffffffff,
]
export const u32 = fc.oneof(fc.constantFrom(...u32Edges), fc.integer({ min: 0, max: 0xffffffff }))

export const kinds = Object.values(Kind)
export const kind = fc.constantFrom(...kinds)

/** Deterministic filler, so a 64 KiB payload costs one loop rather than 65,535 generated values. */
export function filled(length: number, seed = length): Uint8Array {
  const out = new Uint8Array(length)
  let x = (seed | 0) || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x
  }
  return out
}

const sizedPayload = fc
  .tuple(
    fc.oneof(
      fc.constantFrom(0, 127, 128, 255, 256, 16_383, 16_384, 65_534, MAX_PAYLOAD),
      fc.integer({ min: 0, max: MAX_PAYLOAD }),
    ),
    fc.integer(),
  )
  .map(([length, seed]) => filled(length, seed))

export const payload = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 80 }) },
  { weight: 2, arbitrary: fc.uint8Array({ minLength: 100, maxLength: 1500 }) },
  { weight: 1, arbitrary: sizedPayload },
)

const address = fc.oneof(
  fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 65_535 })).map(([h, p]) => `${h}:${p}`),
  fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 65_535 })).map(([h, p]) => `[${h}]:${p}`),
)

/** Any Unicode text (no lone surrogates: they are not UTF-8), on both sides of the ASCII fast path and length forms. */
export const text = fc.oneof(
  fc.constant(''),
  address,
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary-ascii', maxLength: 300 }),
  fc.string({ unit: 'binary', minLength: 60, maxLength: 120 }),
  fc.constant('\ufeffstarts with a byte-order mark'),
)

/** A Frame whose optional keys are either set or absent (never present as undefined). */
export const frame: fc.Arbitrary<Frame> = fc
  .record(
    { flow: u32, id: u32, kind, payload, src: text, dst: text, error: text },
    { requiredKeys: ['flow', 'id', 'kind', 'payload'] },
  )
  // fc.record builds null-prototype objects; decoders return plain ones.
  .map((f) => ({ ...f }))

/** Frames worth naming: the edges every codec must round-trip exactly. */
export const edgeFrames: Frame[] = [
  { flow: 0, id: 0, kind: Kind.ping, payload: new Uint8Array(0) },
  { flow: 0xffffffff, id: 0xffffffff, kind: Kind.window, payload: filled(MAX_PAYLOAD) },
  { flow: 1, id: 2, kind: Kind.request, payload: filled(64), src: '', dst: '', error: '' },
  { flow: 7, id: 0, kind: Kind.error, payload: new Uint8Array(0), error: 'no route to 10.0.0.1:60000 — ⚠ 🚫' },
  { flow: 0x80, id: 0x4000, kind: Kind.reply, payload: filled(1200), dst: '[fe80::1%eth0]:60000' },
  ...kinds.map((k) => ({ flow: k, id: k * 1000, kind: k, payload: filled(k), src: `192.168.1.${k}:60000` })),
]
