import type { Codec } from './codecs/types.ts'
import { UHPPOTED_HEADER, encodeUhppotedInto } from './codecs/uhppoted.ts'
import { RelayError } from '../base/errors.ts'
import { Kind, MAX_ENCODED_FRAME, type Frame, type KindValue } from './frame.ts'
import { ByteQueue } from '../base/byte-queue.ts'
import { slabAlloc } from '../base/slab.ts'

/**
 * How frames travel on a byte stream (tcp, tls). Two formats:
 * - edgerelay v1: a hello first, then `u32 length | codec bytes` (any codec);
 * - uhppoted: no hello, `u16 length | u32 id | payload`, exactly as uhppoted-tunnel.
 * A reader never assumes one read is one frame: it reassembles splits and splits batches.
 */
export interface Wire {
  readonly name: string
  /** Whether a hello exchange precedes the frames. */
  readonly hello: boolean
  /** Whether frames carry a flow id; without one, replies are matched by request id. */
  readonly carriesFlows: boolean
  /**
   * Version, codec and token were agreed by the transport (WebSocket subprotocol, gRPC headers):
   * no hello, both sides are ready at once (docs/wire-protocol.md#websocket and #grpc).
   */
  readonly negotiated?: boolean
  /** Each transport message holds whole frames (WebSocket): a message ending inside a frame is an error. */
  readonly messageFramed?: boolean
  /** Encodes one frame with its stream framing. */
  encode(frame: Frame): Uint8Array
  /** A reassembling reader; push() throws RelayError on a corrupt stream. */
  reader(onFrame: (frame: Frame) => void, defaultKind: KindValue): FrameReader
}

export interface FrameReader {
  push(chunk: Uint8Array): void
  /** Bytes held waiting for the rest of a frame. */
  readonly buffered: number
}

/**
 * Encodes a frame after a header of `header` bytes whose last four hold the body length (u32
 * big-endian). The codec measures the frame once and writes straight into the final buffer.
 */
function encodeWithLength(codec: Codec, frame: Frame, header: number): Uint8Array {
  const out = codec.encodeWithHeadroom(frame, header)
  const size = out.length - header
  if (size > MAX_ENCODED_FRAME) throw new RelayError('E_FRAME_TOO_LARGE', `frame of ${size} bytes exceeds ${MAX_ENCODED_FRAME}`)
  out[header - 4] = size >>> 24
  out[header - 3] = (size >>> 16) & 0xff
  out[header - 2] = (size >>> 8) & 0xff
  out[header - 1] = size & 0xff
  return out
}

/** edgerelay v1 stream framing around any codec. */
export function lengthPrefixedWire(codec: Codec): Wire {
  return {
    name: codec.name,
    hello: true,
    carriesFlows: true,
    encode: (frame) => encodeWithLength(codec, frame, 4),
    reader(onFrame) {
      return new StreamReader(4, (data, off) => {
        const len = ((data[off]! << 24) >>> 0) + (data[off + 1]! << 16) + (data[off + 2]! << 8) + data[off + 3]!
        if (len === 0) throw new RelayError('E_FRAME_EMPTY', 'zero-length frame')
        if (len > MAX_ENCODED_FRAME) throw new RelayError('E_FRAME_TOO_LARGE', `frame length field says ${len} bytes, more than the ${MAX_ENCODED_FRAME} allowed`)
        return len
      }, (body) => onFrame(codec.decode(body)))
    },
  }
}

/**
 * A wire for a transport that negotiates in its own handshake (WebSocket): the same frames, no
 * hello, and every message carries whole frames.
 */
export function negotiatedWire(wire: Wire, opts: { messageFramed: boolean }): Wire {
  return { ...wire, hello: false, negotiated: true, messageFramed: opts.messageFramed }
}

/**
 * gRPC message framing (grpc/PROTOCOL-HTTP2.md): `u8 compressed flag (0) | u32 length | message`,
 * each message one codec-encoded frame; no hello (the HTTP/2 headers negotiate). Compressed
 * messages are refused: edgerelay never advertises grpc-accept-encoding.
 */
export function grpcWire(codec: Codec, carriesFlows = true): Wire {
  return {
    name: codec.name,
    hello: false,
    negotiated: true,
    carriesFlows,
    // Byte 0, the compressed flag, stays 0.
    encode: (frame) => encodeWithLength(codec, frame, 5),
    reader(onFrame, defaultKind) {
      return new StreamReader(5, (data, off) => {
        if (data[off] !== 0) throw new RelayError('E_GRPC_COMPRESSED', `compressed gRPC message (flag ${data[off]}): edgerelay accepts identity encoding only`)
        const len = ((data[off + 1]! << 24) >>> 0) + (data[off + 2]! << 16) + (data[off + 3]! << 8) + data[off + 4]!
        if (len === 0) throw new RelayError('E_FRAME_EMPTY', 'zero-length gRPC message')
        if (len > MAX_ENCODED_FRAME) throw new RelayError('E_FRAME_TOO_LARGE', `gRPC message length says ${len} bytes, more than the ${MAX_ENCODED_FRAME} allowed`)
        return len
      }, carriesFlows ? (body) => onFrame(codec.decode(body)) : (body) => onFrame({ ...codec.decode(body), kind: defaultKind }))
    },
  }
}

/** uhppoted-tunnel's framing (protocol/message.go), without its 2,048-byte read limit. */
export const uhppotedWire: Wire = {
  name: 'uhppoted',
  hello: false,
  carriesFlows: false,
  encode(frame) {
    const out = slabAlloc(UHPPOTED_HEADER + frame.payload.length)
    encodeUhppotedInto(frame.id, frame.payload, out, 0)
    return out
  },
  reader(onFrame, defaultKind) {
    let id = 0
    return new StreamReader(UHPPOTED_HEADER, (data, off) => {
      id = ((data[off + 2]! << 24) >>> 0) + (data[off + 3]! << 16) + (data[off + 4]! << 8) + data[off + 5]!
      return (data[off]! << 8) + data[off + 1]!
    }, (payload) => onFrame({ flow: 0, id, kind: defaultKind, payload }))
  },
}

/**
 * Generic reassembly: a fixed header whose parser returns the body length, then the body. Whole
 * frames inside one chunk are decoded straight from the chunk; only a trailing partial frame is
 * copied aside.
 */
class StreamReader implements FrameReader {
  private readonly pending = new ByteQueue()
  private readonly headerSize: number
  private readonly bodyLength: (data: Uint8Array, offset: number) => number
  private readonly onBody: (body: Uint8Array) => void

  constructor(headerSize: number, bodyLength: (data: Uint8Array, offset: number) => number, onBody: (body: Uint8Array) => void) {
    this.headerSize = headerSize
    this.bodyLength = bodyLength
    this.onBody = onBody
  }

  get buffered(): number {
    return this.pending.length
  }

  push(chunk: Uint8Array): void {
    if (this.pending.length === 0) {
      const used = this.consume(chunk)
      if (used < chunk.length) this.pending.append(chunk.subarray(used))
      return
    }
    this.pending.append(chunk)
    const view = this.pending.view()
    const used = this.consume(view)
    this.pending.discard(used)
  }

  /** Decodes every complete frame in `data`; returns how many bytes were used. */
  private consume(data: Uint8Array): number {
    let off = 0
    const header = this.headerSize
    while (data.length - off >= header) {
      const len = this.bodyLength(data, off)
      const end = off + header + len
      if (end > data.length) break
      this.onBody(data.subarray(off + header, end))
      off = end
    }
    return off
  }
}

export { Kind }
