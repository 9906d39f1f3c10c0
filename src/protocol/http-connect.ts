/**
 * HTTP CONNECT as a proxy reads it (RFC 9110 section 9.3.6, RFC 9112): the request line
 * `CONNECT host:port HTTP/1.1`, header fields up to the empty line, and Basic proxy credentials
 * (RFC 7617). Pure: `parseConnectHead` takes the bytes received so far and says `more`, `bad`
 * (with the status to answer) or what it read and how many bytes the head took; the bytes after it
 * belong to the tunnel. The head is bounded (CONNECT_MAX_HEAD), so a client costs one small buffer.
 */
import { fromBase64 } from '../base/base64.ts'

/** Most bytes of request line and headers a client may send before its tunnel opens. */
export const CONNECT_MAX_HEAD = 8192
/** Most header fields in one request (curl sends 3, chromium about 4). */
export const CONNECT_MAX_FIELDS = 64

export interface ConnectRequest {
  /** The authority as written: `host:port`, `[v6]:port`. Checked by the caller as a destination. */
  authority: string
  /** `HTTP/1.1` or `HTTP/1.0`. */
  version: string
  /** The Proxy-Authorization field's value, if sent (once). */
  proxyAuthorization?: string
}

export type ParsedHead = { kind: 'more' } | { kind: 'bad'; status: number; why: string } | { kind: 'done'; used: number; request: ConnectRequest }

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
// Field values: visible ASCII, spaces and tabs, and obs-text (bytes 0x80-0xff); no controls.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/

/** Where the head ends (after CRLF CRLF, or LF LF as RFC 9112 lets a recipient accept), or -1. */
function headEnd(b: Uint8Array, limit: number): number {
  for (let i = 0; i < limit; i++) {
    if (b[i] !== 0x0a) continue
    if (b[i + 1] === 0x0a) return i + 2
    if (b[i + 1] === 0x0d && b[i + 2] === 0x0a) return i + 3
  }
  return -1
}

export function parseConnectHead(b: Uint8Array): ParsedHead {
  const limit = Math.min(b.length, CONNECT_MAX_HEAD)
  const end = headEnd(b, limit)
  if (end < 0) {
    if (b.length >= CONNECT_MAX_HEAD) return { kind: 'bad', status: 431, why: `request head longer than ${CONNECT_MAX_HEAD} bytes` }
    // A request line that is already wrong need not wait for the rest.
    const firstLf = b.indexOf(0x0a)
    const line = latin1(b.subarray(0, firstLf < 0 ? Math.min(b.length, 16) : firstLf))
    if (line.length >= 8 && !/^CONNECT /.test(line) && /^[A-Z]+ /.test(line)) return { kind: 'bad', status: 405, why: `method ${line.split(' ')[0]}: this proxy serves CONNECT only` }
    if (line.length > 0 && !/^[A-Z]*( |$)/.test(line)) return { kind: 'bad', status: 400, why: 'not an HTTP request line' }
    return { kind: 'more' }
  }
  const lines = latin1(b.subarray(0, end)).split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l))
  // The head ends with an empty line (and split leaves one more empty string after it).
  lines.length -= 2
  const requestLine = lines[0] ?? ''
  const m = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\S+) (HTTP\/1\.[01])$/.exec(requestLine)
  if (!m) return { kind: 'bad', status: 400, why: `malformed request line '${printable(requestLine)}'` }
  const [, method, authority, version] = m
  if (method !== 'CONNECT') return { kind: 'bad', status: 405, why: `method ${printable(method!)}: this proxy serves CONNECT only` }
  if (lines.length - 1 > CONNECT_MAX_FIELDS) return { kind: 'bad', status: 431, why: `more than ${CONNECT_MAX_FIELDS} header fields` }
  const request: ConnectRequest = { authority: authority!, version: version! }
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!
    if (line.startsWith(' ') || line.startsWith('\t')) return { kind: 'bad', status: 400, why: 'obsolete line folding in a header field' }
    const colon = line.indexOf(':')
    const name = colon < 0 ? '' : line.slice(0, colon)
    if (!TOKEN.test(name)) return { kind: 'bad', status: 400, why: `malformed header field '${printable(line.slice(0, 40))}'` }
    const value = line.slice(colon + 1).trim()
    if (!FIELD_VALUE.test(value)) return { kind: 'bad', status: 400, why: `a control character in header field ${printable(name)}` }
    if (name.toLowerCase() === 'proxy-authorization') {
      if (request.proxyAuthorization !== undefined) return { kind: 'bad', status: 400, why: 'Proxy-Authorization sent twice' }
      request.proxyAuthorization = value
    }
  }
  return { kind: 'done', used: end, request }
}

/** `Basic <base64 of user:password>` as its two parts; undefined for another scheme or bad base64. */
export function basicCredentials(value: string): { user: Uint8Array; password: Uint8Array } | undefined {
  const m = /^basic +([A-Za-z0-9+/]+={0,2})$/i.exec(value)
  if (!m) return undefined
  const bytes = fromBase64(m[1]!)
  if (!bytes) return undefined
  const colon = bytes.indexOf(0x3a)
  if (colon < 0) return undefined
  return { user: bytes.subarray(0, colon), password: bytes.subarray(colon + 1) }
}

const REASONS: Record<number, string> = {
  200: 'Connection established',
  400: 'Bad Request',
  403: 'Forbidden',
  405: 'Method Not Allowed',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
}

/**
 * A response head. 200 opens the tunnel (no body follows, the bytes are the tunnel's); any other
 * status carries `text` as a short plain-text body and closes the connection.
 */
export function encodeResponse(status: number, text = ''): Uint8Array {
  const reason = REASONS[status] ?? 'Error'
  if (status === 200) return ascii(`HTTP/1.1 200 ${reason}\r\n\r\n`)
  const body = text ? `${text.replace(/[^\x20-\x7e]/g, '?')}\n` : ''
  const extra = status === 407 ? 'Proxy-Authenticate: Basic realm="edgerelay", charset="UTF-8"\r\n' : status === 405 ? 'Allow: CONNECT\r\n' : ''
  return ascii(`HTTP/1.1 ${status} ${reason}\r\n${extra}Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`)
}

function latin1(b: Uint8Array): string {
  let s = ''
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!)
  return s
}

function ascii(s: string): Uint8Array {
  const out = new Uint8Array(s.length)
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff
  return out
}

/** Text from a client, safe for a log line: short, controls and non-ASCII as '?'. */
function printable(s: string): string {
  return s.slice(0, 80).replace(/[^\x20-\x7e]/g, '?')
}
