/**
 * ZMTP 3.1 (rfc.zeromq.org/spec/37), the subset edgerelay speaks: the 64-byte greeting, the NULL
 * mechanism's READY and ERROR commands, PING/PONG, and single-part messages. Pure byte work: the
 * connection logic is in src/connectors/zmtp-conn.ts.
 *
 * Frame: `flags | size (1 byte, or 8 with LONG) | body`; flags bit 0 MORE, bit 1 LONG, bit 2
 * COMMAND, the rest must be 0. Command body: `u8 name length | name | data`. READY data is a list
 * of properties `u8 name length | name | u32 value length | value`.
 */
import { RelayError } from '../base/errors.ts'
import { ByteQueue } from '../base/byte-queue.ts'

export const GREETING_SIZE = 64
/** Where the signature ends: enough to tell a ZMTP peer from anything else. */
export const SIGNATURE_SIZE = 10

const FLAG_MORE = 1
const FLAG_LONG = 2
const FLAG_COMMAND = 4

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export interface Greeting {
  major: number
  minor: number
  mechanism: string
  asServer: boolean
}

/** Our greeting: version 3.1, mechanism NULL. */
export function encodeGreeting(asServer: boolean): Uint8Array {
  const g = new Uint8Array(GREETING_SIZE)
  g[0] = 0xff
  g[9] = 0x7f
  g[10] = 3
  g[11] = 1
  g.set(encoder.encode('NULL'), 12)
  g[32] = asServer ? 1 : 0
  return g
}

/** Whether the first bytes can start a ZMTP 3 greeting (checked as soon as they arrive). */
export function plausibleSignature(data: Uint8Array): boolean {
  if (data.length > 0 && data[0] !== 0xff) return false
  if (data.length >= SIGNATURE_SIZE && (data[9]! & 1) !== 1) return false
  return true
}

/** Parses a complete 64-byte greeting; throws E_ZMTP_GREETING when it is not ZMTP 3. */
export function parseGreeting(g: Uint8Array): Greeting {
  if (g.length < GREETING_SIZE || !plausibleSignature(g)) throw new RelayError('E_ZMTP_GREETING', 'not a ZMTP greeting (bad signature)')
  const major = g[10]!
  const minor = g[11]!
  if (major < 3) throw new RelayError('E_ZMTP_VERSION', `peer speaks ZMTP ${major}.${minor}; ZMTP 3.0 or later is needed`)
  const raw = g.subarray(12, 32)
  const end = raw.indexOf(0)
  const mechanism = decoder.decode(end < 0 ? raw : raw.subarray(0, end))
  return { major, minor, mechanism, asServer: g[32] === 1 }
}

function frameHeader(flags: number, size: number): Uint8Array {
  if (size <= 255) return Uint8Array.of(flags, size)
  const h = new Uint8Array(9)
  h[0] = flags | FLAG_LONG
  new DataView(h.buffer).setBigUint64(1, BigInt(size))
  return h
}

/** The header of a single-part message of `size` bytes (the body is written after it). */
export function messageHeader(size: number): Uint8Array {
  return frameHeader(0, size)
}

/** A whole command frame. */
export function encodeCommand(name: string, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const n = encoder.encode(name)
  const body = new Uint8Array(1 + n.length + data.length)
  body[0] = n.length
  body.set(n, 1)
  body.set(data, 1 + n.length)
  const h = frameHeader(FLAG_COMMAND, body.length)
  const out = new Uint8Array(h.length + body.length)
  out.set(h)
  out.set(body, h.length)
  return out
}

/** READY with the given properties (names are ASCII, at most 255 bytes). */
export function encodeReady(props: Record<string, string>): Uint8Array {
  const parts: Uint8Array[] = []
  for (const [name, value] of Object.entries(props)) {
    const n = encoder.encode(name)
    const v = encoder.encode(value)
    const p = new Uint8Array(1 + n.length + 4 + v.length)
    p[0] = n.length
    p.set(n, 1)
    new DataView(p.buffer).setUint32(1 + n.length, v.length)
    p.set(v, 5 + n.length)
    parts.push(p)
  }
  const data = new Uint8Array(parts.reduce((s, p) => s + p.length, 0))
  let off = 0
  for (const p of parts) {
    data.set(p, off)
    off += p.length
  }
  return encodeCommand('READY', data)
}

/** ERROR with a reason (cut to the 255 bytes the field holds). */
export function encodeError(reason: string): Uint8Array {
  const r = encoder.encode(reason).subarray(0, 255)
  const data = new Uint8Array(1 + r.length)
  data[0] = r.length
  data.set(r, 1)
  return encodeCommand('ERROR', data)
}

export interface Command {
  name: string
  data: Uint8Array
}

/** Splits a command body into name and data; throws E_ZMTP_COMMAND if the name runs past the end. */
export function parseCommand(body: Uint8Array): Command {
  const len = body[0]
  if (len === undefined || len === 0 || 1 + len > body.length) throw new RelayError('E_ZMTP_COMMAND', 'malformed command (name length past the end)')
  return { name: decoder.decode(body.subarray(1, 1 + len)), data: body.subarray(1 + len) }
}

/** READY properties, names lower-cased (ZMTP names are case-insensitive); throws E_ZMTP_COMMAND when malformed. */
export function parseProperties(data: Uint8Array): Map<string, string> {
  const out = new Map<string, string>()
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  let off = 0
  while (off < data.length) {
    const nlen = data[off]!
    if (nlen === 0 || off + 1 + nlen + 4 > data.length) throw new RelayError('E_ZMTP_COMMAND', 'malformed READY property (name past the end)')
    const name = decoder.decode(data.subarray(off + 1, off + 1 + nlen)).toLowerCase()
    const vlen = view.getUint32(off + 1 + nlen)
    const start = off + 5 + nlen
    if (start + vlen > data.length) throw new RelayError('E_ZMTP_COMMAND', `malformed READY property '${name}' (value past the end)`)
    out.set(name, decoder.decode(data.subarray(start, start + vlen)))
    off = start + vlen
  }
  return out
}

/** The reason of an ERROR command's data. */
export function parseErrorReason(data: Uint8Array): string {
  const len = data[0] ?? 0
  return decoder.decode(data.subarray(1, 1 + Math.min(len, data.length - 1)))
}

export interface ZmtpFrameHandler {
  /** A whole frame; `body` is a view valid during the call. */
  frame(body: Uint8Array, command: boolean, more: boolean): void
  /** A frame over the size limit, skipped without buffering it. */
  oversize(size: number, command: boolean, more: boolean): void
}

/**
 * Reassembles ZMTP frames from a byte stream. A frame over `maxBody` is never buffered: its bytes
 * are skipped as they arrive and `oversize` reports it. Reserved flag bits make the stream
 * untrustworthy: push() throws E_ZMTP_FRAME.
 */
export class ZmtpReader {
  private readonly pending = new ByteQueue()
  private readonly maxBody: number
  private readonly handler: ZmtpFrameHandler
  private skipping = 0

  constructor(maxBody: number, handler: ZmtpFrameHandler) {
    this.maxBody = maxBody
    this.handler = handler
  }

  /** Bytes held waiting for the rest of a frame. */
  get buffered(): number {
    return this.pending.length
  }

  push(chunk: Uint8Array): void {
    if (this.skipping > 0) {
      const n = Math.min(this.skipping, chunk.length)
      this.skipping -= n
      chunk = chunk.subarray(n)
      if (chunk.length === 0) return
    }
    if (this.pending.length === 0) {
      const used = this.consume(chunk)
      if (used < chunk.length) this.pending.append(chunk.subarray(used))
      return
    }
    this.pending.append(chunk)
    const used = this.consume(this.pending.view())
    this.pending.discard(used)
  }

  private consume(data: Uint8Array): number {
    let off = 0
    while (this.skipping === 0 && data.length - off >= 2) {
      const flags = data[off]!
      if (flags & 0xf8) throw new RelayError('E_ZMTP_FRAME', `frame flags 0x${flags.toString(16)} have reserved bits set`)
      const long = (flags & FLAG_LONG) !== 0
      const headerSize = long ? 9 : 2
      if (data.length - off < headerSize) break
      let size: number
      if (long) {
        const big = new DataView(data.buffer, data.byteOffset + off + 1, 8).getBigUint64(0)
        size = big > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(big)
      } else {
        size = data[off + 1]!
      }
      const command = (flags & FLAG_COMMAND) !== 0
      const more = (flags & FLAG_MORE) !== 0
      if (size > this.maxBody) {
        const available = data.length - off - headerSize
        const skipNow = Math.min(available, size)
        this.skipping = size - skipNow
        off += headerSize + skipNow
        this.handler.oversize(size, command, more)
        continue
      }
      const end = off + headerSize + size
      if (end > data.length) break
      this.handler.frame(data.subarray(off + headerSize, end), command, more)
      off = end
    }
    return off
  }
}
