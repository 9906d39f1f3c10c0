/**
 * Buffers from the shared slab (src/core/slab.ts): each is zero-filled, the right
 * size, and never overlaps another one, also across slabs; big frames get their own buffer.
 */
import assert from 'node:assert/strict'
import { slabAlloc, slabCopy } from '../../src/base/slab.ts'
import { CODEC_NAMES, codecByName } from '../../src/protocol/codecs/index.ts'
import { test } from '../harness.ts'

test('frames from the slab are zero-filled, sized exactly, and do not overlap (3 slabs worth)', () => {
  const frames: Uint8Array[] = []
  for (let i = 0; i < 600; i++) {
    const f = slabAlloc(1 + ((i * 37) % 120))
    assert.equal(f.byteLength, 1 + ((i * 37) % 120))
    assert.ok(f.every((b) => b === 0), `frame ${i} is not zero-filled`)
    f.fill((i % 255) + 1)
    frames.push(f)
  }
  // Every frame still holds only its own mark: no later frame was carved over an earlier one.
  frames.forEach((f, i) => assert.ok(f.every((b) => b === (i % 255) + 1), `frame ${i} was overwritten`))
  assert.ok(new Set(frames.map((f) => f.buffer)).size >= 3, 'expected the frames to span several slabs')
})

test('a frame larger than a quarter slab gets a buffer of its own', () => {
  const big = slabAlloc(5000)
  assert.equal(big.byteLength, 5000)
  assert.equal(big.byteOffset, 0)
  assert.equal(big.buffer.byteLength, 5000)
})

test('frames encoded one after another by every codec stay intact', () => {
  const payloads = Array.from({ length: 50 }, (_, i) => new Uint8Array(10 + i).fill(i + 1))
  for (const codec of CODEC_NAMES.map(codecByName)) {
    const encoded = payloads.map((payload, i) => codec.encode({ flow: 1, id: i + 1, kind: 1, payload }))
    encoded.forEach((bytes, i) => {
      const back = codec.decode(bytes)
      assert.equal(back.id, i + 1, codec.name)
      assert.deepEqual(back.payload, payloads[i], `${codec.name} frame ${i}`)
    })
  }
})

test('slabCopy keeps the bytes whatever happens to the original', () => {
  const original = new Uint8Array([1, 2, 3, 4, 5])
  const copy = slabCopy(original)
  original.fill(9)
  assert.deepEqual([...copy], [1, 2, 3, 4, 5])
})
