// @ts-self-types="./bytes.d.mts"
/**
 * Byte helpers for tests and bench scripts alike (plain JavaScript, types in bytes.d.mts:
 * bench/*.mjs run on node without a TypeScript loader).
 */

/** Concatenates byte arrays (tests build wire streams from encoded frames). */
export function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let off = 0
  for (const p of parts) {
    out.set(p, off)
    off += p.length
  }
  return out
}

/** Bytes from hex text; whitespace is ignored ('08 01 ac02'). */
export function hex(text) {
  const digits = text.replace(/\s+/g, '')
  if (!/^([0-9a-f]{2})*$/i.test(digits)) throw new Error(`not hex bytes: ${text}`)
  return Uint8Array.from(digits.match(/../g) ?? [], (h) => parseInt(h, 16))
}

/** Hex text of `bytes`, space-separated ('08 01 ac'). */
export function toHex(bytes) {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ')
}
