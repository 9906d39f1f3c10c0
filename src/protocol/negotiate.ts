/**
 * Negotiation for the hello-less transports (docs/wire-protocol.md#websocket): on WebSocket and gRPC the protocol
 * version, the codec and the token travel in the HTTP request, not in a hello frame. Pure
 * functions, shared by the server (deciding an upgrade or a gRPC call) and the client (building it).
 *
 * WebSocket:
 *   Sec-WebSocket-Protocol: edgerelay.v1.<codec>[, edgerelay.token.<base64url(token)>]
 *   Authorization: Bearer <token>          (clients that can set headers)
 * The server answers with exactly `edgerelay.v1.<codec>` (never the token entry), or refuses the
 * upgrade with an HTTP status, a one-line reason as the body and an `X-Edgerelay-Error` code.
 */
import { PROTOCOL_VERSION, sameSecret } from './hello.ts'

export const SUBPROTOCOL_PREFIX = 'edgerelay.v'
export const TOKEN_PROTOCOL_PREFIX = 'edgerelay.token.'
/** Response header that carries the E_* code of a refusal. */
export const ERROR_HEADER = 'x-edgerelay-error'

export interface Refusal {
  ok: false
  /** HTTP status: 400 bad offer, 401 token missing or wrong, 426 not an upgrade. */
  status: number
  /** Stable code: E_WS_PROTOCOL, E_CODEC_MISMATCH, E_VERSION_MISMATCH, E_AUTH. */
  code: string
  reason: string
}

export interface Acceptance {
  ok: true
  /** The subprotocol the server answers with. */
  protocol: string
}

/** `edgerelay.v1.protobuf` for a codec. */
export function subprotocolFor(codec: string): string {
  return `${SUBPROTOCOL_PREFIX}${PROTOCOL_VERSION}.${codec}`
}

const enc = new TextEncoder()
const dec = new TextDecoder('utf-8', { fatal: true })

/** A token as a subprotocol entry (RFC 6455 allows only token characters there: base64url, no padding). */
export function tokenSubprotocol(token: string): string {
  let bin = ''
  for (const b of enc.encode(token)) bin += String.fromCharCode(b)
  return TOKEN_PROTOCOL_PREFIX + btoa(bin).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')
}

function tokenFromSubprotocol(entry: string): string | undefined {
  const b64 = entry.slice(TOKEN_PROTOCOL_PREFIX.length).replaceAll('-', '+').replaceAll('_', '/')
  try {
    const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4))
    return dec.decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)))
  } catch {
    return undefined
  }
}

/** The token of an `Authorization: Bearer` header, or undefined. */
export function bearerToken(authorization: string | null | undefined): string | undefined {
  const m = /^\s*Bearer\s+(.+?)\s*$/i.exec(authorization ?? '')
  return m ? m[1] : undefined
}

function checkToken(expected: string | undefined, offered: string | undefined, where: string): Refusal | undefined {
  if (expected === undefined) return undefined
  if (offered === undefined) return { ok: false, status: 401, code: 'E_AUTH', reason: `a token is required (${where})` }
  if (!sameSecret(offered, expected)) return { ok: false, status: 401, code: 'E_AUTH', reason: 'wrong token' }
  return undefined
}

/**
 * Decides a WebSocket upgrade from its `Sec-WebSocket-Protocol` and `Authorization` headers.
 * `codec` is what this half speaks; `token` what it requires (undefined: none).
 */
export function negotiateWebSocket(protocolHeader: string | null | undefined, authorization: string | null | undefined, codec: string, token: string | undefined): Acceptance | Refusal {
  const wanted = subprotocolFor(codec)
  const entries = (protocolHeader ?? '').split(',').map((s) => s.trim()).filter(Boolean)
  const tokenEntry = entries.find((e) => e.startsWith(TOKEN_PROTOCOL_PREFIX))
  const offers = entries.filter((e) => e.startsWith(SUBPROTOCOL_PREFIX))
  if (!offers.includes(wanted)) {
    if (offers.length === 0) {
      return { ok: false, status: 400, code: 'E_WS_PROTOCOL', reason: `no edgerelay subprotocol offered: send Sec-WebSocket-Protocol: ${wanted}` }
    }
    const parsed = offers.map((o) => /^edgerelay\.v(\d+)\.(.+)$/.exec(o)).filter((m) => m !== null)
    const sameVersion = parsed.filter((m) => m[1] === String(PROTOCOL_VERSION))
    if (sameVersion.length > 0) {
      return { ok: false, status: 400, code: 'E_CODEC_MISMATCH', reason: `codec mismatch: this half speaks '${codec}', the client offered ${sameVersion.map((m) => `'${m[2]}'`).join(', ')}` }
    }
    const versions = parsed.map((m) => m[1])
    return { ok: false, status: 400, code: 'E_VERSION_MISMATCH', reason: `protocol version mismatch: this half speaks version ${PROTOCOL_VERSION} (${wanted}), the client offered ${versions.length ? `version ${versions.join(', ')}` : offers.join(', ')}` }
  }
  const bearer = bearerToken(authorization)
  const offered = bearer ?? (tokenEntry !== undefined ? tokenFromSubprotocol(tokenEntry) : undefined)
  const refused = checkToken(token, offered, `send Authorization: Bearer <token> or a ${TOKEN_PROTOCOL_PREFIX}<base64url> subprotocol entry`)
  return refused ?? { ok: true, protocol: wanted }
}

/** Headers for a refusal response. */
export function refusalHeaders(r: Refusal): Record<string, string> {
  return { 'content-type': 'text/plain; charset=utf-8', [ERROR_HEADER]: r.code, 'cache-control': 'no-store' }
}
