import type { Frame } from '../frame.ts'

/**
 * A codec turns one Frame into bytes and back. Length prefixes and stream framing are not the
 * codec's job (see src/protocol/wire.ts); uhppoted compatibility is a whole wire format of its own.
 */
export interface Codec {
  /** Name used on the command line and in the hello (`protobuf`, `avro`, `msgpack`). */
  readonly name: string
  /** Exact encoded size of a frame, so callers can encode into a shared buffer. */
  encodedLength(frame: Frame): number
  /** Encodes into `out` at `offset` and returns the offset after the last byte written. */
  encodeInto(frame: Frame, out: Uint8Array, offset: number): number
  /** Convenience: encodes into a fresh buffer. */
  encode(frame: Frame): Uint8Array
  /**
   * Encodes into a fresh buffer that starts with `headroom` unwritten bytes (for a length prefix),
   * measuring the frame once: the per-packet path of the stream wires.
   */
  encodeWithHeadroom(frame: Frame, headroom: number): Uint8Array
  /**
   * Decodes exactly one frame from the whole of `bytes`. Throws a RelayError with code
   * `E_FRAME_DECODE` on malformed or trailing input. The payload may be a view into `bytes`.
   */
  decode(bytes: Uint8Array): Frame
}
