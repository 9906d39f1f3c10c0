import type { Frame } from '../frame.ts'
import { decodedFrame, defineCodec } from './define.ts'
import type { Codec } from './types.ts'
import { readUtf8, utf8Length, writeUtf8 } from './utf8.ts'
import { checkDecodedKind, checkDecodedPayload, checkFrame, decodeError, EMPTY } from './validate.ts'

/**
 * edgerelay.v1.Frame (codecs/schema/edgerelay.proto) in proto3 wire format, written by hand
 * because it is the per-packet hot path. Fields go out in field-number order; zero varints and an
 * empty payload are omitted (proto3 defaults); optional strings go out whenever they are set.
 */

const NAME = 'protobuf'

// Tags are (field number << 3) | wire type: 0 = varint, 2 = length-delimited.
const TAG_FLOW = 0x08
const TAG_ID = 0x10
const TAG_KIND = 0x18
const TAG_PAYLOAD = 0x22
const TAG_SRC = 0x2a
const TAG_DST = 0x32
const TAG_ERROR = 0x3a
const FIELD_NAMES = ['', 'flow', 'id', 'kind', 'payload', 'src', 'dst', 'error']
const FIELD_WIRE_TYPES = [-1, 0, 0, 0, 2, 2, 2, 2]

function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5
}

function writeVarint(out: Uint8Array, p: number, v: number): number {
  while (v > 0x7f) {
    out[p++] = (v & 0x7f) | 0x80
    v >>>= 7
  }
  out[p++] = v
  return p
}

// UTF-8 lengths of the strings of the frame being encoded, measured once by size() for write().
let srcLength = 0
let dstLength = 0
let errorLength = 0

function size(f: Frame): number {
  checkFrame(NAME, f)
  let n = 2 // kind is never 0, so always present; values 1..10 take one byte
  if (f.flow !== 0) n += 1 + varintSize(f.flow)
  if (f.id !== 0) n += 1 + varintSize(f.id)
  const len = f.payload.length
  if (len !== 0) n += 1 + varintSize(len) + len
  if (f.src !== undefined) n += 1 + varintSize(srcLength = utf8Length(f.src)) + srcLength
  if (f.dst !== undefined) n += 1 + varintSize(dstLength = utf8Length(f.dst)) + dstLength
  if (f.error !== undefined) n += 1 + varintSize(errorLength = utf8Length(f.error)) + errorLength
  return n
}

/** Writes a frame just measured by size(). */
function write(f: Frame, out: Uint8Array, p: number): number {
  if (f.flow !== 0) {
    out[p++] = TAG_FLOW
    p = writeVarint(out, p, f.flow)
  }
  if (f.id !== 0) {
    out[p++] = TAG_ID
    p = writeVarint(out, p, f.id)
  }
  out[p++] = TAG_KIND
  out[p++] = f.kind
  const payload = f.payload
  const len = payload.length
  if (len !== 0) {
    out[p++] = TAG_PAYLOAD
    p = writeVarint(out, p, len)
    out.set(payload, p)
    p += len
  }
  if (f.src !== undefined) {
    out[p++] = TAG_SRC
    p = writeUtf8(f.src, out, writeVarint(out, p, srcLength))
  }
  if (f.dst !== undefined) {
    out[p++] = TAG_DST
    p = writeUtf8(f.dst, out, writeVarint(out, p, dstLength))
  }
  if (f.error !== undefined) {
    out[p++] = TAG_ERROR
    p = writeUtf8(f.error, out, writeVarint(out, p, errorLength))
  }
  return p
}

// Read cursor shared by the helpers below; decode is synchronous, so it is never re-entered.
let pos = 0

/** Reads a varint that must fit in 32 bits (at most 5 bytes); anything longer is refused. */
function readU32(b: Uint8Array, what: string): number {
  const start = pos
  let value = 0
  for (let shift = 0;; shift += 7) {
    if (pos >= b.length) throw decodeError(NAME, `truncated ${what} varint at byte ${start}`)
    const byte = b[pos++]
    if (shift === 28) {
      if (byte > 0x0f) throw decodeError(NAME, `${what} varint at byte ${start} does not fit in 32 bits`)
      return (value | (byte << 28)) >>> 0
    }
    value |= (byte & 0x7f) << shift
    if (byte < 0x80) return value >>> 0
  }
}

/** Reads a length prefix and checks that many bytes follow. */
function readLength(b: Uint8Array, what: string): number {
  const at = pos
  const byte = b[pos]
  let len: number
  if (byte < 0x80) {
    len = byte
    pos++
  } else len = readU32(b, `${what} length`)
  if (len > b.length - pos) {
    throw decodeError(NAME, `${what} at byte ${at} claims ${len} bytes but only ${b.length - pos} remain`)
  }
  return len
}

/** Skips a field this version does not know, so later versions can add fields. */
function skipField(b: Uint8Array, tag: number, at: number): void {
  const field = tag >>> 3
  const wireType = tag & 7
  if (field === 0) throw decodeError(NAME, `field number 0 at byte ${at} is invalid`)
  if (field < FIELD_NAMES.length) {
    throw decodeError(
      NAME,
      `field ${field} (${FIELD_NAMES[field]}) at byte ${at} has wire type ${wireType}, expected ${
        FIELD_WIRE_TYPES[field]
      }`,
    )
  }
  switch (wireType) {
    case 0: {
      const start = pos
      while (pos < b.length && b[pos] >= 0x80) pos++
      if (pos >= b.length) throw decodeError(NAME, `truncated varint of field ${field} at byte ${start}`)
      pos++
      if (pos - start > 10 || (pos - start === 10 && b[pos - 1] > 1)) {
        throw decodeError(NAME, `varint of field ${field} at byte ${start} is longer than 64 bits`)
      }
      return
    }
    case 1:
    case 5: {
      const n = wireType === 1 ? 8 : 4
      if (b.length - pos < n) throw decodeError(NAME, `truncated ${n * 8}-bit field ${field} at byte ${pos}`)
      pos += n
      return
    }
    case 2: {
      const len = readLength(b, `field ${field}`) // moves pos past the length prefix first
      pos += len
      return
    }
    case 3:
    case 4:
      throw decodeError(NAME, `field ${field} at byte ${at} is a group (wire type ${wireType}), which is not supported`)
    default:
      throw decodeError(NAME, `field ${field} at byte ${at} has invalid wire type ${wireType}`)
  }
}

function decode(b: Uint8Array): Frame {
  const end = b.length
  pos = 0
  let flow = 0
  let id = 0
  let kind = 0
  let payload: Uint8Array = EMPTY
  let src: string | undefined
  let dst: string | undefined
  let error: string | undefined
  while (pos < end) {
    const at = pos
    let tag = b[pos++]
    if (tag > 0x7f) {
      pos = at
      tag = readU32(b, 'field tag')
    }
    // Single-byte varints take the inline path; readU32 handles the rest and truncation.
    switch (tag) {
      case TAG_FLOW:
        flow = b[pos] < 0x80 ? b[pos++] : readU32(b, 'flow')
        break
      case TAG_ID:
        id = b[pos] < 0x80 ? b[pos++] : readU32(b, 'id')
        break
      case TAG_KIND:
        kind = b[pos] < 0x80 ? b[pos++] : readU32(b, 'kind')
        break
      case TAG_PAYLOAD: {
        const len = readLength(b, 'payload')
        checkDecodedPayload(NAME, len, at)
        payload = b.subarray(pos, pos += len)
        break
      }
      case TAG_SRC: {
        const len = readLength(b, 'src')
        src = readUtf8(NAME, 'src', b, pos, pos += len)
        break
      }
      case TAG_DST: {
        const len = readLength(b, 'dst')
        dst = readUtf8(NAME, 'dst', b, pos, pos += len)
        break
      }
      case TAG_ERROR: {
        const len = readLength(b, 'error')
        error = readUtf8(NAME, 'error', b, pos, pos += len)
        break
      }
      default:
        skipField(b, tag, at)
    }
  }
  checkDecodedKind(NAME, kind)
  return decodedFrame(flow, id, kind, payload, src, dst, error)
}

export const protobufCodec: Codec = defineCodec(NAME, size, write, decode)
