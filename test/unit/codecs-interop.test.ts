/**
 * Our hand-written codecs against independent implementations loading the published schemas:
 * protobufjs (edgerelay.proto), avsc (edgerelay.avsc) and msgpackr (the layout in
 * msgpack-layout.md), in both directions.
 */
import assert from 'node:assert/strict'
import { Buffer } from 'node:buffer'
import { readFileSync } from 'node:fs'
import avsc from 'avsc'
import fc from 'fast-check'
import { pack, unpack } from 'msgpackr'
import protobuf from 'protobufjs'
import { type Frame, Kind } from '../../src/protocol/frame.ts'
import { avroCodec } from '../../src/protocol/codecs/avro.ts'
import { msgpackCodec } from '../../src/protocol/codecs/msgpack.ts'
import { protobufCodec } from '../../src/protocol/codecs/protobuf.ts'
import { test } from '../harness.ts'
import { edgeFrames, filled, frame } from '../helpers/codec-frames.ts'

const RUNS = { numRuns: 150 }
const schema = (name: string) => readFileSync(new URL(`../../codecs/schema/${name}`, import.meta.url), 'utf8')
const u8 = (b: Uint8Array) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
const OPTIONAL = ['src', 'dst', 'error'] as const

/** Checks a frame decoded by our codec against the original, and one decoded by a library too. */
function check(property: (f: Frame) => void): void {
  for (const f of edgeFrames) property(f)
  fc.assert(fc.property(frame, property), RUNS)
}

// --- protobuf ---

const proto = protobuf.parse(schema('edgerelay.proto')).root
const ProtoFrame = proto.lookupType('edgerelay.v1.Frame')

test('edgerelay.proto: Kind values equal frame.ts, Tunnel.Relay streams Frames both ways', () => {
  const values = proto.lookupEnum('edgerelay.v1.Kind').values
  const expected: Record<string, number> = { KIND_UNSPECIFIED: 0 }
  for (const [name, value] of Object.entries(Kind)) expected[name.toUpperCase()] = value
  assert.deepEqual({ ...values }, expected)
  const relay = proto.lookupService('edgerelay.v1.Tunnel').methods.Relay
  assert.equal(relay.requestType, 'Frame')
  assert.equal(relay.responseType, 'Frame')
  assert.equal(relay.requestStream, true)
  assert.equal(relay.responseStream, true)
})

test('protobuf: protobufjs decodes our bytes', () => {
  check((f) => {
    const m = ProtoFrame.decode(protobufCodec.encode(f)) as unknown as Record<string, unknown>
    assert.equal(m.flow, f.flow)
    assert.equal(m.id, f.id)
    assert.equal(m.kind, f.kind)
    assert.deepEqual(u8(m.payload as Uint8Array), f.payload)
    // protobufjs sets own properties only for fields present on the wire (proto3 `optional` presence).
    for (const key of OPTIONAL) assert.equal(Object.hasOwn(m, key) ? m[key] : undefined, f[key], key)
  })
})

test('protobuf: we decode bytes protobufjs encodes', () => {
  check((f) => {
    const bytes = ProtoFrame.encode(ProtoFrame.fromObject(f)).finish()
    assert.deepStrictEqual(protobufCodec.decode(u8(bytes)), f)
  })
})

// --- avro ---

const AvroFrame = avsc.Type.forSchema(JSON.parse(schema('edgerelay.avsc')))
const SYMBOLS = JSON.parse(schema('edgerelay.avsc')).fields[2].type.symbols as string[]

function toAvro(f: Frame): Record<string, unknown> {
  return {
    flow: f.flow,
    id: f.id,
    kind: SYMBOLS[f.kind],
    // avsc 5 insists on Buffer for bytes (docs/runtimes.md#avsc-wants-a-buffer-for-bytes).
    payload: Buffer.from(f.payload.buffer, f.payload.byteOffset, f.payload.byteLength),
    src: f.src ?? null,
    dst: f.dst ?? null,
    error: f.error ?? null,
  }
}

test('edgerelay.avsc: Kind symbol index equals the Kind value', () => {
  assert.equal(SYMBOLS[0], 'KIND_UNSPECIFIED')
  for (const [name, value] of Object.entries(Kind)) assert.equal(SYMBOLS[value], name.toUpperCase())
  assert.equal(SYMBOLS.length, 11)
})

test('avro: avsc decodes our bytes, and encodes the very same bytes', () => {
  check((f) => {
    const ours = avroCodec.encode(f)
    const theirs = AvroFrame.toBuffer(toAvro(f))
    assert.deepEqual(ours, u8(theirs))
    const m = AvroFrame.fromBuffer(Buffer.from(ours.buffer, ours.byteOffset, ours.byteLength)) as Record<
      string,
      unknown
    >
    assert.deepEqual({ ...m, payload: u8(m.payload as Uint8Array) }, { ...toAvro(f), payload: f.payload })
  })
})

test('avro: we decode bytes avsc encodes', () => {
  check((f) => assert.deepStrictEqual(avroCodec.decode(u8(AvroFrame.toBuffer(toAvro(f)))), f))
})

// --- msgpack ---

/** The array form of msgpack-layout.md: trailing absent strings left out, inner ones null. */
function toArray(f: Frame): unknown[] {
  const out: unknown[] = [f.flow, f.id, f.kind, f.payload, f.src ?? null, f.dst ?? null, f.error ?? null]
  while (out.length > 4 && out[out.length - 1] === null) out.pop()
  return out
}

test('msgpack: msgpackr unpacks our bytes into the documented array', () => {
  check((f) => {
    const arr = unpack(msgpackCodec.encode(f)) as unknown[]
    assert.ok(Array.isArray(arr))
    assert.deepEqual([...arr.slice(0, 3), u8(arr[3] as Uint8Array), ...arr.slice(4)], toArray(f))
  })
})

test('msgpack: we decode what msgpackr packs from the array form', () => {
  check((f) => assert.deepStrictEqual(msgpackCodec.decode(u8(pack(toArray(f)))), f))
  // A 7-element array whose trailing nil is written out rather than left off.
  const f: Frame = { flow: 0xffffffff, id: 0x80000000, kind: Kind.data, payload: filled(40_000), dst: 'x'.repeat(300) }
  assert.deepStrictEqual(msgpackCodec.decode(u8(pack([...toArray(f), null]))), f)
})
