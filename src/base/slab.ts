/**
 * Small byte buffers carved from a shared slab instead of one allocation each: encoded frames and
 * the copies the UDP adapters keep of datagrams they send later. On V8 a typed array above 64
 * bytes gets its own off-heap backing store (a calloc and, later, a sweep); such a buffer is
 * usually 30-200 bytes and lives only until a socket took it, so allocating it cost more than
 * encoding it (bench/codecs.ts: `encode` vs `encodeInto`: 0.8 vs 10 M/s on Node, before this).
 * The same idea as Node's Buffer pool: a kept buffer keeps its slab (16 KiB) alive, never more.
 * A region is handed out once and never reused, so holders never see each other's bytes.
 */
const SLAB_SIZE = 16 * 1024
/** Buffers above this get their own backing store: a slab holds at least four of them. */
const MAX_POOLED = SLAB_SIZE / 4

let slab = new Uint8Array(SLAB_SIZE)
let used = 0

/** A zero-filled Uint8Array of `size` bytes; a view into a shared slab when small. */
export function slabAlloc(size: number): Uint8Array {
  if (size > MAX_POOLED) return new Uint8Array(size)
  if (used + size > SLAB_SIZE) {
    slab = new Uint8Array(SLAB_SIZE)
    used = 0
  }
  const out = slab.subarray(used, used + size)
  // 8-byte aligned starts, so no two buffers share a word.
  used = (used + size + 7) & ~7
  return out
}

/** A copy of `data` that stays valid and unchanged whatever the caller does with `data` next. */
export function slabCopy(data: Uint8Array): Uint8Array {
  const copy = slabAlloc(data.byteLength)
  copy.set(data)
  return copy
}
