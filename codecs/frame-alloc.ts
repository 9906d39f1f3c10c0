/**
 * Fresh frame buffers carved from a shared slab instead of one allocation each. On V8 a typed
 * array above 64 bytes gets its own off-heap backing store (a calloc and, later, a sweep); an
 * encoded frame is usually 30-200 bytes and lives only until the socket took it, so per-frame
 * allocation cost more than the encoding itself (bench/codecs.ts: `encode` vs `encodeInto`).
 * The same idea as Node's Buffer pool: a kept frame keeps its slab (16 KiB) alive, never more.
 */
const SLAB_SIZE = 16 * 1024
/** Frames above this get their own buffer: a slab holds at least four of them. */
const MAX_POOLED = SLAB_SIZE / 4

let slab = new Uint8Array(SLAB_SIZE)
let used = 0

/** A zero-filled Uint8Array of `size` bytes; a view into a shared slab when small. */
export function allocFrame(size: number): Uint8Array {
  if (size > MAX_POOLED) return new Uint8Array(size)
  if (used + size > SLAB_SIZE) {
    slab = new Uint8Array(SLAB_SIZE)
    used = 0
  }
  const out = slab.subarray(used, used + size)
  // 8-byte aligned starts, so no two frames share a word.
  used = (used + size + 7) & ~7
  return out
}
