import { RelayError } from '../base/errors.ts'

/**
 * The hello exchange that opens every tcp/tls tunnel connection
 * (docs/wire-protocol.md#the-hello-tcp-and-tls). It is the same for every codec, since it is how
 * the two halves agree on one:
 *
 *   client → server  "ERLY" | version u8 | type u8 = 1 | flags u16 | codec len u8 | codec | token len u16 | token
 *   server → client  "ERLY" | version u8 | type u8 = 2 accept, 3 refuse | flags u16 | reason len u16 | reason
 *
 * One flag is defined: FLAG_STARTTLS.
 *
 * All integers big-endian; codec is ASCII, token and reason UTF-8.
 */
export const HELLO_MAGIC = new Uint8Array([0x45, 0x52, 0x4c, 0x59]) // "ERLY"
export const PROTOCOL_VERSION = 1
const TYPE_HELLO = 1
const TYPE_ACCEPT = 2
const TYPE_REFUSE = 3
const MAX_TOKEN_BYTES = 1024

/**
 * Hello flag (client hello and server accept): STARTTLS. The client offers it in a plain hello that
 * carries no token; a server that agrees sets it in its accept, and both run TLS on the same
 * connection, where the usual hello follows (docs/wire-protocol.md#starttls).
 */
export const FLAG_STARTTLS = 0x0001

export interface ClientHello {
  version: number
  codec: string
  flags: number
  token?: string
}

export interface ServerReply {
  version: number
  accepted: boolean
  flags: number
  reason: string
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export function encodeClientHello(hello: { codec: string; token?: string; flags?: number }): Uint8Array {
  const codec = encoder.encode(hello.codec)
  const token = encoder.encode(hello.token ?? '')
  if (codec.length > 255) throw new RelayError('E_CONFIG', 'codec name too long')
  if (token.length > MAX_TOKEN_BYTES) throw new RelayError('E_CONFIG', `token longer than ${MAX_TOKEN_BYTES} bytes`)
  const out = new Uint8Array(4 + 1 + 1 + 2 + 1 + codec.length + 2 + token.length)
  out.set(HELLO_MAGIC, 0)
  const view = new DataView(out.buffer)
  out[4] = PROTOCOL_VERSION
  out[5] = TYPE_HELLO
  view.setUint16(6, hello.flags ?? 0)
  out[8] = codec.length
  out.set(codec, 9)
  view.setUint16(9 + codec.length, token.length)
  out.set(token, 11 + codec.length)
  return out
}

export function encodeServerReply(accepted: boolean, reason = '', flags = 0): Uint8Array {
  const text = encoder.encode(reason).subarray(0, 4000)
  const out = new Uint8Array(4 + 1 + 1 + 2 + 2 + text.length)
  out.set(HELLO_MAGIC, 0)
  out[4] = PROTOCOL_VERSION
  out[5] = accepted ? TYPE_ACCEPT : TYPE_REFUSE
  const view = new DataView(out.buffer)
  view.setUint16(6, flags)
  view.setUint16(8, text.length)
  out.set(text, 10)
  return out
}

/** True when the first bytes (as many as are present) are the hello magic. */
export function startsWithMagic(buf: Uint8Array): boolean {
  const n = Math.min(buf.length, 4)
  for (let i = 0; i < n; i++) if (buf[i] !== HELLO_MAGIC[i]) return false
  return true
}

function checkHeader(buf: Uint8Array, expectTypes: number[], who: string): void {
  if (!startsWithMagic(buf)) {
    throw new RelayError('E_HELLO_MAGIC', `${who} did not start with the edgerelay hello (bad magic ${hex(buf.subarray(0, 4))}): not an edgerelay peer, or one running --codec uhppoted`)
  }
  if (buf.length > 4 && buf[4] !== PROTOCOL_VERSION) {
    throw new RelayError('E_HELLO_VERSION', `${who} speaks protocol version ${buf[4]}, this half speaks version ${PROTOCOL_VERSION}`)
  }
  if (buf.length > 5 && !expectTypes.includes(buf[5]!)) {
    throw new RelayError('E_HELLO_TYPE', `${who} sent hello message type ${buf[5]}, expected ${expectTypes.join(' or ')}`)
  }
}

/**
 * Parses a client hello from the start of `buf`. Returns undefined when more bytes are needed,
 * or the hello and how many bytes it took. Throws RelayError on a malformed hello.
 */
export function parseClientHello(buf: Uint8Array): { hello: ClientHello; length: number } | undefined {
  checkHeader(buf, [TYPE_HELLO], 'peer')
  if (buf.length < 9) return undefined
  const codecLen = buf[8]!
  if (buf.length < 11 + codecLen) return undefined
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  const tokenLen = view.getUint16(9 + codecLen)
  if (tokenLen > MAX_TOKEN_BYTES) throw new RelayError('E_HELLO_MALFORMED', `hello token of ${tokenLen} bytes exceeds ${MAX_TOKEN_BYTES}`)
  const length = 11 + codecLen + tokenLen
  if (buf.length < length) return undefined
  try {
    const codec = decoder.decode(buf.subarray(9, 9 + codecLen))
    const token = tokenLen > 0 ? decoder.decode(buf.subarray(11 + codecLen, length)) : undefined
    return { hello: { version: buf[4]!, codec, flags: view.getUint16(6), token }, length }
  } catch (cause) {
    throw new RelayError('E_HELLO_MALFORMED', 'hello carries invalid UTF-8', { cause })
  }
}

/** Parses the server's answer to a hello; same return convention as parseClientHello. */
export function parseServerReply(buf: Uint8Array): { reply: ServerReply; length: number } | undefined {
  checkHeader(buf, [TYPE_ACCEPT, TYPE_REFUSE], 'server')
  if (buf.length < 10) return undefined
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  const reasonLen = view.getUint16(8)
  const length = 10 + reasonLen
  if (buf.length < length) return undefined
  let reason: string
  try {
    reason = decoder.decode(buf.subarray(10, length))
  } catch {
    reason = '(reason not valid UTF-8)'
  }
  return { reply: { version: buf[4]!, accepted: buf[5] === TYPE_ACCEPT, flags: view.getUint16(6), reason }, length }
}

/** Compares secrets in time independent of where they differ. */
export function sameSecret(a: string | undefined, b: string | undefined): boolean {
  const x = encoder.encode(a ?? '')
  const y = encoder.encode(b ?? '')
  let diff = x.length ^ y.length
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0)
  return diff === 0 && a !== undefined && b !== undefined
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ') || '(none)'
}
