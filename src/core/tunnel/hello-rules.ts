/**
 * What a session decides in its hello phase, as plain functions of the bytes and the settings
 * (docs/wire-protocol.md#the-hello-tcp-and-tls): which framing a codec-auto server's peer speaks, whether a
 * server takes a client's hello, and what a client does with the server's reply. The session
 * (session.ts) carries the decisions out: it writes, upgrades, opens or fails.
 */
import { RelayError } from '../../base/errors.ts'
import { FLAG_STARTTLS, parseClientHello, sameSecret, startsWithMagic, type ClientHello, type ServerReply } from '../../protocol/hello.ts'
import type { Wire } from '../../protocol/wire.ts'

/**
 * auto: the largest first frame taken for uhppoted-tunnel framing. uhppoted-tunnel reads at most
 * 2,048 bytes at a time and carries 64-byte controller packets, so a bigger length field means the
 * peer speaks something else (a TLS ClientHello, HTTP, noise): refused, not waited for.
 */
export const UHPPOTED_FIRST_FRAME_MAX = 2048

export function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ')
}

/**
 * A codec-auto server's first bytes: too few to tell, an edgerelay hello, or uhppoted-tunnel
 * framing (`uhppoted` undefined when a token is required, which that framing cannot carry).
 * Anything else throws E_HELLO_MAGIC with what was seen.
 */
export function detectFraming(data: Uint8Array, uhppoted: Wire | undefined): 'wait' | 'hello' | 'uhppoted' {
  if (startsWithMagic(data)) return data.length < 4 ? 'wait' : 'hello'
  if (data.length < 2) return 'wait'
  const length = (data[0]! << 8) | data[1]!
  if (!uhppoted) throw new RelayError('E_HELLO_MAGIC', `not an edgerelay hello (bad magic ${hex(data.subarray(0, 4))}); uhppoted-tunnel framing is refused because this half requires a token (--token), which that framing cannot carry`)
  if (length === 0 || length > UHPPOTED_FIRST_FRAME_MAX) {
    throw new RelayError('E_HELLO_MAGIC', `first bytes ${hex(data.subarray(0, 4))} are neither an edgerelay hello (bad magic) nor a uhppoted-tunnel frame (length ${length}, expected 1-${UHPPOTED_FIRST_FRAME_MAX})`)
  }
  return 'uhppoted'
}

/** What a server does with a client's hello. */
export type ServerDecision =
  | { refuse: string; code: string; starttlsMissing?: boolean }
  | { accept: Wire; starttls: boolean }

export interface ServerHelloSettings {
  /** The first, plain hello of a STARTTLS server (the offer is required, no token yet). */
  plainHello: boolean
  /** The wire for the client's codec (auto: any this half has), undefined if none. */
  wireFor(codec: string): Wire | undefined
  /** What this half speaks, for the refusal (`'protobuf'`, or every codec with auto). */
  speaks: string
  token: string | undefined
}

export function judgeClientHello(hello: ClientHello, s: ServerHelloSettings): ServerDecision {
  const offered = (hello.flags & FLAG_STARTTLS) !== 0
  if (s.plainHello && !offered) {
    return { refuse: 'this server requires STARTTLS (tcp/server with ,starttls) and the client did not offer it: run the client with ,starttls, or something on the path removed the offer', code: 'E_STARTTLS_REQUIRED', starttlsMissing: true }
  }
  if (offered && !s.plainHello) return { refuse: 'STARTTLS offered but not done here: this server has no ,starttls (or the offer came again inside TLS)', code: 'E_STARTTLS_REFUSED' }
  const wire = s.wireFor(hello.codec)
  if (!wire || wire.name !== hello.codec) return { refuse: `codec mismatch: this half speaks ${s.speaks}, the client asked for '${hello.codec}'`, code: 'E_CODEC_MISMATCH' }
  // The token is checked inside TLS: the plain hello of STARTTLS carries none.
  if (s.plainHello) return { accept: wire, starttls: true }
  if (s.token !== undefined && !sameSecret(hello.token, s.token)) return { refuse: hello.token === undefined ? 'a token is required' : 'wrong token', code: 'E_AUTH' }
  return { accept: wire, starttls: false }
}

/** What a client does with the server's reply: open the tunnel, or start TLS (STARTTLS agreed). Throws when it must stop. */
export function judgeServerReply(reply: ServerReply, plainHello: boolean, label: string): 'open' | 'upgrade' {
  if (!reply.accepted) throw new RelayError(refusalCode(reply.reason), `server refused the tunnel: ${reply.reason}`)
  const agreed = (reply.flags & FLAG_STARTTLS) !== 0
  if (plainHello) {
    if (!agreed) throw new RelayError('E_STARTTLS_REFUSED', `${label} accepted the tunnel without agreeing to STARTTLS (a server without ,starttls, or something on the path removed the offer): not sending anything in plain text`)
    return 'upgrade'
  }
  if (agreed) throw new RelayError('E_STARTTLS_PROTOCOL', 'the server agreed to a STARTTLS that was not offered')
  return 'open'
}

/**
 * A uhppoted-framing server's first bytes, checked for an edgerelay hello sent by mistake: too few
 * to tell, frames, or the refusal to answer with.
 */
export function sniffMistakenHello(data: Uint8Array): 'wait' | 'frames' | { refuse: string } {
  if (data.length < 6 && startsWithMagic(data)) return 'wait'
  if (startsWithMagic(data) && data[4] === 1 && data[5] === 1) {
    const parsed = safeParseClientHello(data)
    const asked = parsed ? `'${parsed.hello.codec}'` : 'an edgerelay codec'
    return { refuse: `codec mismatch: this half speaks uhppoted-tunnel framing (--codec uhppoted), the client asked for ${asked}` }
  }
  return 'frames'
}

export function helloTimeoutError(side: 'client' | 'server', label: string, ms: number): RelayError {
  if (side === 'client') {
    return new RelayError('E_HELLO_TIMEOUT', `no hello reply from the server within ${ms} ms: the server may be uhppoted-tunnel (or an edgerelay half with --codec uhppoted), which has no hello; if so, run this half with --codec uhppoted`)
  }
  return new RelayError('E_HELLO_TIMEOUT', `peer ${label} did not complete the hello within ${ms} ms`)
}

function safeParseClientHello(data: Uint8Array) {
  try {
    return parseClientHello(data)
  } catch {
    return undefined
  }
}

/** The stable code of a refusal the server gave as text. */
function refusalCode(reason: string): string {
  if (reason.startsWith('codec mismatch')) return 'E_CODEC_MISMATCH'
  if (reason.includes('STARTTLS')) return 'E_STARTTLS_REFUSED'
  if (reason.includes('token')) return 'E_AUTH'
  return 'E_HELLO_REFUSED'
}
