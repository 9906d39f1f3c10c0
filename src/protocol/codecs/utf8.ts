import { decodeError } from './validate.ts'

/**
 * UTF-8 for the codecs' string fields without allocating on the encode side (TextEncoder would
 * need a subarray per string). Lone surrogates cannot be UTF-8; they are written as U+FFFD, the
 * same choice TextEncoder makes.
 */

/** Byte length of `s` in UTF-8. */
export function utf8Length(s: string): number {
  const n = s.length
  let bytes = n
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) continue
    if (c < 0x800) bytes += 1
    else if (c < 0xd800 || c > 0xdbff || i + 1 === n) bytes += 2
    else {
      const d = s.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) {
        // A surrogate pair is two UTF-16 units and four UTF-8 bytes.
        bytes += 2
        i++
      } else bytes += 2
    }
  }
  return bytes
}

/** Writes `s` as UTF-8 at `p` and returns the offset after it; `out` must have room (see utf8Length). */
export function writeUtf8(s: string, out: Uint8Array, p: number): number {
  const n = s.length
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i)
    if (c < 0x80) {
      out[p++] = c
    } else if (c < 0x800) {
      out[p++] = 0xc0 | (c >> 6)
      out[p++] = 0x80 | (c & 0x3f)
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const d = c <= 0xdbff && i + 1 < n ? s.charCodeAt(i + 1) : 0
        if (d >= 0xdc00 && d <= 0xdfff) {
          const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00)
          out[p++] = 0xf0 | (cp >> 18)
          out[p++] = 0x80 | ((cp >> 12) & 0x3f)
          out[p++] = 0x80 | ((cp >> 6) & 0x3f)
          out[p++] = 0x80 | (cp & 0x3f)
          i++
          continue
        }
        c = 0xfffd
      }
      out[p++] = 0xe0 | (c >> 12)
      out[p++] = 0x80 | ((c >> 6) & 0x3f)
      out[p++] = 0x80 | (c & 0x3f)
    }
  }
  return p
}

// ignoreBOM keeps a leading U+FEFF in the text, so strings round-trip exactly.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Short ASCII strings (addresses) skip TextDecoder, which costs more than the loop below. */
const ASCII_FAST_PATH_MAX = 64

/** Reads bytes `start..end` of `b` as strict UTF-8; malformed text is a decode error naming `what`. */
export function readUtf8(codec: string, what: string, b: Uint8Array, start: number, end: number): string {
  if (end - start <= ASCII_FAST_PATH_MAX) {
    let s = ''
    let i = start
    for (; i < end; i++) {
      const c = b[i]
      if (c >= 0x80) break
      s += String.fromCharCode(c)
    }
    if (i === end) return s
  }
  try {
    return decoder.decode(b.subarray(start, end))
  } catch (err) {
    throw decodeError(codec, `${what} at byte ${start} is not valid UTF-8`, err)
  }
}
