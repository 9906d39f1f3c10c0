import type { Frame } from '../frame.ts'
import { decodedFrame, defineCodec } from './define.ts'
import type { Codec } from './types.ts'
import { readUtf8, utf8Length, writeUtf8 } from './utf8.ts'
import { checkDecodedKind, checkDecodedPayload, checkFrame, decodeError, EMPTY } from './validate.ts'

/**
 * A Frame as one MessagePack array, [flow, id, kind, payload, src?, dst?, error?], laid out in
 * codecs/schema/msgpack-layout.md. Encoding uses the smallest forms; decoding takes any int, str
 * or bin width a stock encoder might pick, and nothing else.
 */

const NAME = 'msgpack'
const NIL = 0xc0

function uintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x100 ? 2 : v < 0x10000 ? 3 : 5
}

function binHeaderSize(len: number): number {
  return len < 0x100 ? 2 : len < 0x10000 ? 3 : 5
}

function strHeaderSize(len: number): number {
  return len < 0x20 ? 1 : len < 0x100 ? 2 : len < 0x10000 ? 3 : 5
}

function writeUint(out: Uint8Array, p: number, v: number): number {
  if (v < 0x80) {
    out[p++] = v
  } else if (v < 0x100) {
    out[p++] = 0xcc
    out[p++] = v
  } else if (v < 0x10000) {
    out[p++] = 0xcd
    out[p++] = v >>> 8
    out[p++] = v
  } else {
    out[p++] = 0xce
    out[p++] = v >>> 24
    out[p++] = v >>> 16
    out[p++] = v >>> 8
    out[p++] = v
  }
  return p
}

/** Writes a bin or str header: `tags` are the 8-, 16- and 32-bit length forms. */
function writeLengthHeader(
  out: Uint8Array,
  p: number,
  len: number,
  tag8: number,
  tag16: number,
  tag32: number,
): number {
  if (len < 0x100) {
    out[p++] = tag8
    out[p++] = len
  } else if (len < 0x10000) {
    out[p++] = tag16
    out[p++] = len >>> 8
    out[p++] = len
  } else {
    out[p++] = tag32
    out[p++] = len >>> 24
    out[p++] = len >>> 16
    out[p++] = len >>> 8
    out[p++] = len
  }
  return p
}

// UTF-8 lengths of the strings of the frame being encoded, measured once by size() for write().
let srcLength = 0
let dstLength = 0
let errorLength = 0

/** Array length: trailing absent strings are left out. */
function count(f: Frame): number {
  return f.error !== undefined ? 7 : f.dst !== undefined ? 6 : f.src !== undefined ? 5 : 4
}

function size(f: Frame): number {
  checkFrame(NAME, f)
  const len = f.payload.length
  const n = count(f)
  let total = 1 + uintSize(f.flow) + uintSize(f.id) + 1 + binHeaderSize(len) + len
  if (n > 4) total += f.src === undefined ? 1 : strHeaderSize(srcLength = utf8Length(f.src)) + srcLength
  if (n > 5) total += f.dst === undefined ? 1 : strHeaderSize(dstLength = utf8Length(f.dst)) + dstLength
  if (n > 6) total += strHeaderSize(errorLength = utf8Length(f.error as string)) + errorLength
  return total
}

function writeStr(s: string | undefined, length: number, out: Uint8Array, p: number): number {
  if (s === undefined) {
    out[p++] = NIL
    return p
  }
  if (length < 0x20) out[p++] = 0xa0 | length
  else p = writeLengthHeader(out, p, length, 0xd9, 0xda, 0xdb)
  return writeUtf8(s, out, p)
}

/** Writes a frame just measured by size(). */
function write(f: Frame, out: Uint8Array, p: number): number {
  const n = count(f)
  out[p++] = 0x90 | n // fixarray
  p = writeUint(out, p, f.flow)
  p = writeUint(out, p, f.id)
  out[p++] = f.kind // positive fixint
  const payload = f.payload
  p = writeLengthHeader(out, p, payload.length, 0xc4, 0xc5, 0xc6)
  out.set(payload, p)
  p += payload.length
  if (n > 4) p = writeStr(f.src, srcLength, out, p)
  if (n > 5) p = writeStr(f.dst, dstLength, out, p)
  if (n > 6) p = writeStr(f.error, errorLength, out, p)
  return p
}

// Read cursor shared by the helpers below; decode is synchronous, so it is never re-entered.
let pos = 0

/** Reads an unsigned big-endian integer of `n` bytes (1, 2 or 4). */
function readBE(b: Uint8Array, n: number, what: string, at: number): number {
  if (b.length - pos < n) throw decodeError(NAME, `truncated ${what} at byte ${at}`)
  let v = 0
  for (let i = 0; i < n; i++) v = v * 256 + b[pos++]
  return v
}

/** Reads a 64-bit int whose value must be in 0..2^32-1: the high word must be zero. */
function readBE64(b: Uint8Array, what: string, at: number): number {
  const hi = readBE(b, 4, what, at)
  const lo = readBE(b, 4, what, at)
  if (hi !== 0) throw decodeError(NAME, `${what} at byte ${at} is not in 0..4294967295`)
  return lo
}

/** Reads any int form holding a value in 0..2^32-1. */
function readUint(b: Uint8Array, what: string): number {
  const at = pos
  const tag = b[pos++]
  if (tag < 0x80) return tag
  let v: number
  switch (tag) {
    case 0xcc:
      return readBE(b, 1, what, at)
    case 0xcd:
      return readBE(b, 2, what, at)
    case 0xce:
      return readBE(b, 4, what, at)
    case 0xcf:
      return readBE64(b, what, at)
    // Signed forms are fine when the value is not negative (some encoders use them for every int).
    case 0xd0:
      v = readBE(b, 1, what, at) << 24 >> 24
      break
    case 0xd1:
      v = readBE(b, 2, what, at) << 16 >> 16
      break
    case 0xd2:
      v = readBE(b, 4, what, at) | 0
      break
    case 0xd3:
      v = readBE64(b, what, at)
      break
    default:
      if (tag === undefined) throw decodeError(NAME, `truncated ${what} at byte ${at}`)
      throw decodeError(NAME, `${what} at byte ${at} is ${describe(tag)}, expected an unsigned integer`)
  }
  if (v < 0) throw decodeError(NAME, `${what} at byte ${at} is negative (${v})`)
  return v
}

/** Reads a length from a header form and checks that many bytes follow. */
function readLengthAfter(b: Uint8Array, n: number, what: string, at: number): number {
  const len = n === 0 ? b[at] & 0x1f : readBE(b, n, what, at)
  if (len > b.length - pos) {
    throw decodeError(NAME, `${what} at byte ${at} claims ${len} bytes but only ${b.length - pos} remain`)
  }
  return len
}

function readBin(b: Uint8Array, what: string): Uint8Array {
  const at = pos
  const tag = b[pos++]
  const n = tag === 0xc4 ? 1 : tag === 0xc5 ? 2 : tag === 0xc6 ? 4 : -1
  if (n < 0) {
    if (tag === undefined) throw decodeError(NAME, `truncated ${what} at byte ${at}`)
    throw decodeError(NAME, `${what} at byte ${at} is ${describe(tag)}, expected bin`)
  }
  const len = readLengthAfter(b, n, what, at)
  checkDecodedPayload(NAME, len, at)
  return len === 0 ? EMPTY : b.subarray(pos, pos += len)
}

function readOptionalStr(b: Uint8Array, what: string): string | undefined {
  const at = pos
  const tag = b[pos++]
  if (tag === NIL) return undefined
  const n = tag >= 0xa0 && tag <= 0xbf ? 0 : tag === 0xd9 ? 1 : tag === 0xda ? 2 : tag === 0xdb ? 4 : -1
  if (n < 0) {
    if (tag === undefined) throw decodeError(NAME, `truncated ${what} at byte ${at}`)
    throw decodeError(NAME, `${what} at byte ${at} is ${describe(tag)}, expected str or nil`)
  }
  const len = readLengthAfter(b, n, what, at)
  return readUtf8(NAME, what, b, pos, pos += len)
}

/** Reads the array header; the element count must be 4..7. */
function readCount(b: Uint8Array): number {
  const tag = b[pos++]
  const what = 'array length'
  let n: number
  if (tag >= 0x90 && tag <= 0x9f) n = tag & 0x0f
  else if (tag === 0xdc) n = readBE(b, 2, what, 0)
  else if (tag === 0xdd) n = readBE(b, 4, what, 0)
  else if (tag === undefined) throw decodeError(NAME, 'empty input')
  else throw decodeError(NAME, `frame is ${describe(tag)}, expected an array`)
  if (n < 4 || n > 7) throw decodeError(NAME, `frame is an array of ${n} elements, expected 4 to 7`)
  return n
}

function decode(b: Uint8Array): Frame {
  pos = 0
  const n = readCount(b)
  const flow = readUint(b, 'flow')
  const id = readUint(b, 'id')
  const kindAt = pos
  const kind = readUint(b, 'kind')
  if (kind > 10) throw decodeError(NAME, `kind ${kind} at byte ${kindAt} is not a known Kind value (1..10)`)
  checkDecodedKind(NAME, kind)
  const payload = readBin(b, 'payload')
  const src = n > 4 ? readOptionalStr(b, 'src') : undefined
  const dst = n > 5 ? readOptionalStr(b, 'dst') : undefined
  const error = n > 6 ? readOptionalStr(b, 'error') : undefined
  if (pos !== b.length) throw decodeError(NAME, `${b.length - pos} trailing bytes after the frame at byte ${pos}`)
  return decodedFrame(flow, id, kind, payload, src, dst, error)
}

const TYPE_NAMES: Record<number, string> = {
  0xc0: 'nil',
  0xc1: 'the never-used byte 0xc1',
  0xc2: 'false',
  0xc3: 'true',
  0xca: 'a float',
  0xcb: 'a float',
  0xdc: 'an array',
  0xdd: 'an array',
  0xde: 'a map',
  0xdf: 'a map',
}

/** Names a MessagePack type byte for error messages. */
function describe(tag: number): string {
  if (tag < 0x80) return 'an int'
  if (tag < 0x90) return 'a map'
  if (tag < 0xa0) return 'an array'
  if (tag < 0xc0) return 'a str'
  if (tag >= 0xe0) return 'a negative int'
  if (TYPE_NAMES[tag]) return TYPE_NAMES[tag]
  if (tag <= 0xc6) return 'a bin'
  if (tag <= 0xc9 || (tag >= 0xd4 && tag <= 0xd8)) return 'an ext'
  if (tag <= 0xd3) return 'an int'
  return 'a str'
}

export const msgpackCodec: Codec = defineCodec(NAME, size, write, decode)
