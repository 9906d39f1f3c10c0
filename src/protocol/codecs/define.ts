import type { Frame, KindValue } from '../frame.ts'
import type { Codec } from './types.ts'
import { slabAlloc } from '../../base/slab.ts'
import { checkRoom } from './validate.ts'

/**
 * Builds a Codec from a measuring `size` (which also validates the frame) and a `write` that
 * trusts it, so every codec gets the same room check and the same fresh-buffer `encode`.
 */
export function defineCodec(
  name: string,
  size: (frame: Frame) => number,
  write: (frame: Frame, out: Uint8Array, offset: number) => number,
  decode: (bytes: Uint8Array) => Frame,
): Codec {
  return {
    name,
    encodedLength: size,
    encodeInto(frame, out, offset) {
      checkRoom(name, out, offset, size(frame))
      return write(frame, out, offset)
    },
    encode(frame) {
      const out = slabAlloc(size(frame))
      write(frame, out, 0)
      return out
    },
    encodeWithHeadroom(frame, headroom) {
      const out = slabAlloc(headroom + size(frame))
      write(frame, out, headroom)
      return out
    },
    decode,
  }
}

/** A decoded frame whose absent optionals are absent keys, not keys holding undefined. */
export function decodedFrame(
  flow: number,
  id: number,
  kind: number,
  payload: Uint8Array,
  src: string | undefined,
  dst: string | undefined,
  error: string | undefined,
): Frame {
  const frame: Frame = { flow, id, kind: kind as KindValue, payload }
  if (src !== undefined) frame.src = src
  if (dst !== undefined) frame.dst = dst
  if (error !== undefined) frame.error = error
  return frame
}
