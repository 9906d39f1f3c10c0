import { type Frame, Kind } from '../frame.ts'
import { slabAlloc } from '../../base/slab.ts'
import type { Codec } from './types.ts'
import { checkPayload, checkRoom, decodeError, encodeError, isU32 } from './validate.ts'

/**
 * uhppoted-tunnel's framing (protocol/message.go), byte for byte, so either half can be the Go
 * program: `u16 payload length | u32 id | payload`, both integers big-endian.
 *
 * The format has room for the request id and the payload only. uhppotedCodec drops flow, kind,
 * src, dst and error when encoding and decodes every frame as {flow: 0, id, kind: request}; the
 * relay has to carry that state itself when this codec is chosen. Splitting a byte stream into
 * frames (reading the length first) is the stream reader's job, not this file's.
 */

export const UHPPOTED_HEADER = 6
export const UHPPOTED_MAX_PAYLOAD = 65_535

const NAME = 'uhppoted'

function check(id: number, payload: Uint8Array): void {
  if (!isU32(id)) throw encodeError(NAME, `id ${id} is not an integer in 0..4294967295`)
  checkPayload(NAME, payload)
}

function write(id: number, payload: Uint8Array, out: Uint8Array, offset: number): number {
  const len = payload.length
  out[offset] = len >>> 8
  out[offset + 1] = len
  out[offset + 2] = id >>> 24
  out[offset + 3] = id >>> 16
  out[offset + 4] = id >>> 8
  out[offset + 5] = id
  out.set(payload, offset + UHPPOTED_HEADER)
  return offset + UHPPOTED_HEADER + len
}

/** Writes one frame into `out` at `offset` and returns the offset after it. */
export function encodeUhppotedInto(id: number, payload: Uint8Array, out: Uint8Array, offset: number): number {
  check(id, payload)
  checkRoom(NAME, out, offset, UHPPOTED_HEADER + payload.length)
  return write(id, payload, out, offset)
}

/** Returns one frame in a buffer of its own (a view into a shared slab when small: src/core/slab.ts). */
export function encodeUhppoted(id: number, payload: Uint8Array): Uint8Array {
  check(id, payload)
  const out = slabAlloc(UHPPOTED_HEADER + payload.length)
  write(id, payload, out, 0)
  return out
}

function decode(b: Uint8Array): Frame {
  if (b.length < UHPPOTED_HEADER) {
    throw decodeError(NAME, `${b.length} bytes is shorter than the ${UHPPOTED_HEADER}-byte header`)
  }
  const len = (b[0] << 8) | b[1]
  if (len !== b.length - UHPPOTED_HEADER) {
    throw decodeError(
      NAME,
      `length field says ${len} payload bytes but ${b.length - UHPPOTED_HEADER} follow the header`,
    )
  }
  const id = ((b[2] << 24) | (b[3] << 16) | (b[4] << 8) | b[5]) >>> 0
  return { flow: 0, id, kind: Kind.request, payload: b.subarray(UHPPOTED_HEADER) }
}

/** Carries id and payload only; see the note at the top of this file. */
export const uhppotedCodec: Codec = {
  name: NAME,
  encodedLength(frame) {
    check(frame.id, frame.payload)
    return UHPPOTED_HEADER + frame.payload.length
  },
  encodeInto(frame, out, offset) {
    return encodeUhppotedInto(frame.id, frame.payload, out, offset)
  },
  encode(frame) {
    return encodeUhppoted(frame.id, frame.payload)
  },
  encodeWithHeadroom(frame, headroom) {
    check(frame.id, frame.payload)
    const out = slabAlloc(headroom + UHPPOTED_HEADER + frame.payload.length)
    encodeUhppotedInto(frame.id, frame.payload, out, headroom)
    return out
  },
  decode,
}
