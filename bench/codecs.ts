/**
 * Encode+decode throughput of each codec for 64- and 1,200-byte payloads, with the libraries our
 * tests check against (protobufjs, avsc, msgpackr) measured in the same run for scale.
 *
 *   node --import tsx bench/codecs.ts [--json] [--ms 300]
 *   bun bench/codecs.ts
 *   deno run -A bench/codecs.ts
 *
 * One op = encode one frame and decode it back. `encodeInto` reuses one buffer, as a connection
 * writer would; `encode` allocates a fresh one per frame. Each cell is the best of 5 timed rounds.
 */
import { Buffer } from 'node:buffer'
import { readFileSync } from 'node:fs'
import process from 'node:process'
import avsc from 'avsc'
import { pack, unpack } from 'msgpackr'
import protobuf from 'protobufjs'
import { CODEC_NAMES, codecByName } from '../src/protocol/codecs/index.ts'
import { type Frame, Kind, MAX_ENCODED_FRAME } from '../src/protocol/frame.ts'

const args = process.argv.slice(2)
const json = args.includes('--json')
const roundMs = Number(args[args.indexOf('--ms') + 1]) || 300
const ROUNDS = 5
const SIZES = [64, 1200]

interface Row {
  codec: string
  payload: number
  bytes: number
  /** ops/s with encode (fresh buffer) + decode */
  encode: number
  /** ops/s with encodeInto (reused buffer) + decode; absent for libraries */
  encodeInto?: number
}

function runtime(): string {
  const g = globalThis as { Bun?: { version: string }; Deno?: { version: { deno: string } } }
  if (g.Bun) return `bun ${g.Bun.version}`
  if (g.Deno) return `deno ${g.Deno.version.deno}`
  return `node ${process.versions.node}`
}

let sink = 0

/** Runs `op` in batches for `roundMs`, ROUNDS times, and returns the best rate in ops/s. */
function measure(op: () => number): number {
  // Warm up for a round's time first: the optimising compiler runs on a background thread.
  const warm = performance.now()
  while (performance.now() - warm < roundMs) for (let i = 0; i < 1000; i++) sink ^= op()
  let best = 0
  for (let r = 0; r < ROUNDS; r++) {
    let ops = 0
    const start = performance.now()
    let elapsed = 0
    do {
      for (let i = 0; i < 1000; i++) sink ^= op()
      ops += 1000
      elapsed = performance.now() - start
    } while (elapsed < roundMs)
    best = Math.max(best, (ops / elapsed) * 1000)
  }
  return best
}

function frameOf(size: number): Frame {
  const payload = new Uint8Array(size)
  for (let i = 0; i < size; i++) payload[i] = (i * 31 + 7) & 0xff
  return { flow: 1, id: 123_456, kind: Kind.request, payload }
}

const rows: Row[] = []
const buffer = new Uint8Array(MAX_ENCODED_FRAME)

for (const size of SIZES) {
  const frame = frameOf(size)
  for (const name of CODEC_NAMES) {
    const codec = codecByName(name)
    rows.push({
      codec: name,
      payload: size,
      bytes: codec.encodedLength(frame),
      encode: measure(() => codec.decode(codec.encode(frame)).id),
      encodeInto: measure(() => codec.decode(buffer.subarray(0, codec.encodeInto(frame, buffer, 0))).id),
    })
  }
}

// Reference libraries, loading the same published schemas.
const schema = (name: string) => readFileSync(new URL(`../codecs/schema/${name}`, import.meta.url), 'utf8')
const ProtoFrame = protobuf.parse(schema('edgerelay.proto')).root.lookupType('edgerelay.v1.Frame')
const AvroFrame = avsc.Type.forSchema(JSON.parse(schema('edgerelay.avsc')))

for (const size of SIZES) {
  const frame = frameOf(size)
  const avroValue = {
    ...frame,
    kind: 'REQUEST',
    payload: Buffer.from(frame.payload),
    src: null,
    dst: null,
    error: null,
  }
  const array = [frame.flow, frame.id, frame.kind, frame.payload]
  const libs: [string, () => Uint8Array, (b: Uint8Array) => number][] = [
    ['protobufjs', () => ProtoFrame.encode(frame).finish(), (b) => (ProtoFrame.decode(b) as unknown as Frame).id],
    ['avsc', () => AvroFrame.toBuffer(avroValue), (b) => (AvroFrame.fromBuffer(b as Buffer) as Frame).id],
    ['msgpackr', () => pack(array), (b) => (unpack(b) as number[])[1]],
  ]
  for (const [name, encode, decode] of libs) {
    rows.push({ codec: name, payload: size, bytes: encode().length, encode: measure(() => decode(encode())) })
  }
}

if (json) {
  console.log(JSON.stringify({ runtime: runtime(), roundMs, rounds: ROUNDS, results: rows.map(round) }, null, 2))
} else {
  const k = (n?: number) => (n === undefined ? '-' : `${(n / 1000).toFixed(0)} k`)
  console.log(`codec encode+decode, ops/s (${runtime()}, best of ${ROUNDS} × ${roundMs} ms)\n`)
  console.log(
    `${'codec'.padEnd(11)}${'payload'.padStart(8)}${'bytes'.padStart(7)}${'encode'.padStart(11)}${
      'encodeInto'.padStart(12)
    }`,
  )
  for (const r of rows) {
    console.log(
      `${r.codec.padEnd(11)}${String(r.payload).padStart(8)}${String(r.bytes).padStart(7)}${k(r.encode).padStart(11)}${
        k(r.encodeInto).padStart(12)
      }`,
    )
  }
}
if (sink === 0.5) console.log(sink) // keeps the results observable so nothing is optimised away

function round(r: Row): Row {
  return {
    ...r,
    encode: Math.round(r.encode),
    encodeInto: r.encodeInto === undefined ? undefined : Math.round(r.encodeInto),
  }
}
