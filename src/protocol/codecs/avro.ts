import type { Frame } from '../frame.ts'
import { decodedFrame, defineCodec } from './define.ts'
import type { Codec } from './types.ts'
import { readUtf8, utf8Length, writeUtf8 } from './utf8.ts'
import { checkDecodedKind, checkDecodedPayload, checkFrame, decodeError, EMPTY } from './validate.ts'

/**
 * edgerelay.v1.Frame (codecs/schema/edgerelay.avsc) in Avro binary encoding, written by hand.
 * A datum is its fields in schema order: longs and ints as zig-zag varints, bytes and strings as
 * a long length then the bytes, enums as their symbol index, unions as a branch index (0 = null,
 * 1 = string) then the value.
 */

const NAME = 'avro'
const UNION_NULL = 0x00 // zig-zag 0
const UNION_STRING = 0x02 // zig-zag 1

/** Size of the zig-zag varint of a non-negative value (below 2^32, so its zig-zag is below 2^33). */
function longSize(v: number): number {
  return v < 0x40 ? 1 : v < 0x2000 ? 2 : v < 0x100000 ? 3 : v < 0x8000000 ? 4 : 5
}

/** Writes a non-negative value below 2^32 as a zig-zag varint (2v); 2v may pass 2^32, hence the division. */
function writeLong(out: Uint8Array, p: number, v: number): number {
  let z = v * 2
  while (z > 0x7f) {
    out[p++] = (z & 0x7f) | 0x80
    z = z < 0x80000000 ? z >>> 7 : Math.floor(z / 128)
  }
  out[p++] = z
  return p
}

// UTF-8 lengths of the strings of the frame being encoded, measured once by size() for write().
let srcLength = 0
let dstLength = 0
let errorLength = 0

function size(f: Frame): number {
  checkFrame(NAME, f)
  const len = f.payload.length
  let n = longSize(f.flow) + longSize(f.id) + 1 + longSize(len) + len + 3
  if (f.src !== undefined) n += longSize(srcLength = utf8Length(f.src)) + srcLength
  if (f.dst !== undefined) n += longSize(dstLength = utf8Length(f.dst)) + dstLength
  if (f.error !== undefined) n += longSize(errorLength = utf8Length(f.error)) + errorLength
  return n
}

function writeOptional(s: string | undefined, length: number, out: Uint8Array, p: number): number {
  if (s === undefined) {
    out[p++] = UNION_NULL
    return p
  }
  out[p++] = UNION_STRING
  return writeUtf8(s, out, writeLong(out, p, length))
}

/** Writes a frame just measured by size(). */
function write(f: Frame, out: Uint8Array, p: number): number {
  p = writeLong(out, p, f.flow)
  p = writeLong(out, p, f.id)
  out[p++] = f.kind * 2 // enum index 1..10 as a zig-zag int, one byte
  const payload = f.payload
  p = writeLong(out, p, payload.length)
  out.set(payload, p)
  p += payload.length
  p = writeOptional(f.src, srcLength, out, p)
  p = writeOptional(f.dst, dstLength, out, p)
  return writeOptional(f.error, errorLength, out, p)
}

// Read cursor shared by the helpers below; decode is synchronous, so it is never re-entered.
let pos = 0

/**
 * Reads a zig-zag varint. Every valid value here (u32, payload or string length) fits in 5 bytes,
 * so longer varints are refused before they can cost anything.
 */
function readLong(b: Uint8Array, what: string): number {
  const start = pos
  let z = 0
  for (let shift = 0;; shift += 7) {
    if (pos >= b.length) throw decodeError(NAME, `truncated ${what} at byte ${start}`)
    const byte = b[pos++]
    if (shift === 28) {
      if (byte > 0x7f) throw decodeError(NAME, `${what} at byte ${start} is out of range`)
      z = (z >>> 0) + byte * 0x10000000
      break
    }
    z |= (byte & 0x7f) << shift
    if (byte < 0x80) {
      z >>>= 0
      break
    }
  }
  return z % 2 === 0 ? z / 2 : -(z + 1) / 2
}

function readU32(b: Uint8Array, what: string): number {
  const byte = b[pos]
  // One-byte zig-zag of a non-negative value: even and below 0x80.
  if (byte < 0x80 && (byte & 1) === 0) {
    pos++
    return byte >>> 1
  }
  const start = pos
  const v = readLong(b, what)
  if (v < 0 || v > 0xffffffff) throw decodeError(NAME, `${what} ${v} at byte ${start} is not in 0..4294967295`)
  return v
}

/** Reads a length and checks that many bytes follow. */
function readLength(b: Uint8Array, what: string): number {
  const at = pos
  const len = readLong(b, `${what} length`)
  if (len < 0) throw decodeError(NAME, `${what} length at byte ${at} is negative (${len})`)
  if (len > b.length - pos) {
    throw decodeError(NAME, `${what} at byte ${at} claims ${len} bytes but only ${b.length - pos} remain`)
  }
  return len
}

function readOptional(b: Uint8Array, what: string): string | undefined {
  const at = pos
  const branch = b[pos++]
  if (branch === UNION_NULL) return undefined
  if (branch !== UNION_STRING) {
    if (branch === undefined) throw decodeError(NAME, `truncated ${what} at byte ${at}`)
    throw decodeError(
      NAME,
      `${what} at byte ${at} has union branch byte 0x${branch.toString(16)}, expected 0 (null) or 2 (string)`,
    )
  }
  const len = readLength(b, what)
  return readUtf8(NAME, what, b, pos, pos += len)
}

function decode(b: Uint8Array): Frame {
  pos = 0
  const flow = readU32(b, 'flow')
  const id = readU32(b, 'id')
  const kindAt = pos
  const kind = readLong(b, 'kind')
  if (kind < 0 || kind > 10) throw decodeError(NAME, `kind index ${kind} at byte ${kindAt} is not a Kind symbol`)
  checkDecodedKind(NAME, kind)
  const payloadAt = pos
  const len = readLength(b, 'payload')
  checkDecodedPayload(NAME, len, payloadAt)
  const payload = len === 0 ? EMPTY : b.subarray(pos, pos += len)
  const src = readOptional(b, 'src')
  const dst = readOptional(b, 'dst')
  const error = readOptional(b, 'error')
  if (pos !== b.length) throw decodeError(NAME, `${b.length - pos} trailing bytes after the frame at byte ${pos}`)
  return decodedFrame(flow, id, kind, payload, src, dst, error)
}

export const avroCodec: Codec = defineCodec(NAME, size, write, decode)
