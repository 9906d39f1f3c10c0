import { RelayError } from '../../base/errors.ts'
import { type Frame, isKind, MAX_PAYLOAD } from '../frame.ts'

/**
 * The checks and errors every codec shares. Decoders throw only `E_FRAME_DECODE`, so a caller can
 * count and drop a peer's garbage with one catch; encoders refuse frames the wire cannot carry
 * with `E_FRAME_ENCODE` rather than writing something the other half would misread.
 */

export function decodeError(codec: string, message: string, cause?: unknown): RelayError {
  return new RelayError(
    'E_FRAME_DECODE',
    `cannot decode ${codec} frame: ${message}`,
    cause === undefined ? undefined : { cause },
  )
}

export function encodeError(codec: string, message: string): RelayError {
  return new RelayError('E_FRAME_ENCODE', `cannot encode ${codec} frame: ${message}`)
}

export function isU32(n: number): boolean {
  return n >>> 0 === n
}

/** Throws unless `frame` holds only values every codec can represent exactly. */
export function checkFrame(codec: string, frame: Frame): void {
  if (!isU32(frame.flow)) throw encodeError(codec, `flow ${frame.flow} is not an integer in 0..4294967295`)
  if (!isU32(frame.id)) throw encodeError(codec, `id ${frame.id} is not an integer in 0..4294967295`)
  if (!isKind(frame.kind)) throw encodeError(codec, `kind ${frame.kind} is not a known Kind value (1..10)`)
  checkPayload(codec, frame.payload)
  checkText(codec, 'src', frame.src)
  checkText(codec, 'dst', frame.dst)
  checkText(codec, 'error', frame.error)
}

export function checkPayload(codec: string, payload: Uint8Array): void {
  if (!(payload instanceof Uint8Array)) throw encodeError(codec, 'payload is not a Uint8Array')
  if (payload.length > MAX_PAYLOAD) {
    throw encodeError(codec, `payload of ${payload.length} bytes exceeds ${MAX_PAYLOAD}`)
  }
}

function checkText(codec: string, field: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'string') {
    throw encodeError(codec, `${field} must be a string or undefined`)
  }
}

/** Throws unless `size` bytes fit in `out` at `offset`: typed arrays drop writes past the end silently. */
export function checkRoom(codec: string, out: Uint8Array, offset: number, size: number): void {
  if (!(offset >= 0 && offset + size <= out.length)) {
    throw encodeError(codec, `needs ${size} bytes at offset ${offset} but the buffer holds ${out.length}`)
  }
}

/** Decoded payloads larger than any encoder may send are refused too, so both sides agree. */
export function checkDecodedPayload(codec: string, length: number, at: number): void {
  if (length > MAX_PAYLOAD) throw decodeError(codec, `payload of ${length} bytes at byte ${at} exceeds ${MAX_PAYLOAD}`)
}

export function checkDecodedKind(codec: string, kind: number): void {
  if (!isKind(kind)) {
    throw decodeError(
      codec,
      kind === 0 ? 'kind is missing (0, KIND_UNSPECIFIED)' : `kind ${kind} is not a known Kind value (1..10)`,
    )
  }
}

/** Shared by decoders for absent payloads; it has no bytes to mutate. */
export const EMPTY = new Uint8Array(0)
