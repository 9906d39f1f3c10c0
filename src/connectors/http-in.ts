/**
 * `http/<addr>` and `https/<addr>` in-connectors: uhppoted-tunnel's HTTP API, so its browser pages
 * and scripts (examples/html/javascript/udp.js) keep working against edgerelay:
 *
 *   POST /udp/broadcast  {"ID": 7, "wait": "500ms", "request": [23, 148, 0, ...]}
 *     → {"ID": 7, "replies": [[23, 148, ...], ...]}   every reply within wait ("0s": none, at once)
 *   POST /udp/send       {"ID": 8, "wait": true, "request": [...]}
 *     → {"ID": 8, "reply": [23, ...]}                 the first reply, at once ("wait": false: {"ID": 8})
 *
 * Each POST is a request through the half's out connector (a tunnel or a UDP socket); where it
 * goes is the out connector's business. Errors are plain text as Go's http.Error writes them.
 * Other paths serve static files from --html (no dot-files, no directory listings), and GET
 * /healthz answers with the half's state.
 */
import type { HttpHandler, HttpRequestInfo } from '../ports/http.ts'
import type { SocketAddress, StreamListener } from '../ports/runtime.ts'
import type { HalfContext, InConnector, PacketSink } from '../core/connector.ts'
import { parseDuration } from '../base/duration.ts'
import { RelayError } from '../base/errors.ts'
import { Flow } from '../core/flow.ts'
import { MAX_DATAGRAM } from '../protocol/frame.ts'
import { bindAll, listenAt } from '../net/bind-all.ts'
import type { ConnectorSpec } from '../net/connector-string.ts'
import { resolveListen } from '../net/resolve.ts'
import { jsonResponse, securityHeaders, withHeaders } from './http-response.ts'
import { warnIfOpen } from './open-server.ts'
import { concatBytes } from '../base/message-batch.ts'
import { httpTlsOf } from './tls-settings.ts'
import { formatAddress } from '../base/address.ts'
import type { ConnectorFactory } from '../core/connector.ts'

/** uhppoted-tunnel gzips JSON replies above this size when the client accepts gzip. */
const GZIP_MINIMUM = 16384
const DEFAULT_WAIT_MS = 5000
/** With wait 0, how long the first reply may take (uhppoted-tunnel: wait + 5 s). */
const FIRST_REPLY_MS = 5000
const MAX_WAIT_MS = 5 * 60_000
const MAX_BODY = 1 << 20

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  htm: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  json: 'application/json',
  svg: 'image/svg+xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  ico: 'image/x-icon',
  txt: 'text/plain; charset=utf-8',
  wasm: 'application/wasm',
  woff2: 'font/woff2',
}

/**
 * What a POST asks for. `all`: every reply within `waitMs`; `first`: the first reply at once;
 * `none`: answer at once, without replies (the request is still sent). `form` is the body's
 * shape: `{"ID", "replies": [...]}`, or /udp/send's `{"ID", "reply": [...]}` (`{"ID"}` alone
 * for `none`).
 */
export interface UdpRequest {
  id: number
  request: Uint8Array
  answer: 'all' | 'first' | 'none'
  waitMs: number
  form: 'replies' | 'reply'
}

/**
 * A request body as uhppoted-tunnel reads it (its examples/html/javascript/udp.js sends both
 * shapes): /udp/send takes `"wait": true|false` (true or absent: the first reply, at once);
 * /udp/broadcast takes a Go duration (`"500ms"`; absent: 5s; `"0s"`: answer at once with no
 * replies). A duration on /udp/send, edgerelay's earlier form, collects replies as broadcast
 * does, except that "0s" there still means the first reply. Throws a message for a 400.
 */
export function parseUdpRequest(body: unknown, path: '/udp/send' | '/udp/broadcast' = '/udp/broadcast'): UdpRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error('the body must be a JSON object')
  const o = body as Record<string, unknown>
  const id = o.ID ?? 0
  if (typeof id !== 'number' || !Number.isInteger(id)) throw new Error('"ID" must be an integer')
  const send = path === '/udp/send'
  let answer: UdpRequest['answer'] = send ? 'first' : 'all'
  let form: UdpRequest['form'] = send ? 'reply' : 'replies'
  let waitMs = DEFAULT_WAIT_MS
  if (typeof o.wait === 'boolean') {
    if (!o.wait) answer = 'none'
  } else if (o.wait !== undefined) {
    if (typeof o.wait !== 'string') throw new Error('"wait" must be true, false or a duration string such as "5s" or "500ms"')
    try {
      waitMs = parseDuration(o.wait, 'wait')
    } catch {
      throw new Error(`"wait" is not a duration: ${JSON.stringify(o.wait)} (use forms like 500ms, 5s, 1m30s)`)
    }
    if (waitMs > MAX_WAIT_MS) throw new Error(`"wait" may be at most ${MAX_WAIT_MS / 1000}s`)
    form = 'replies'
    answer = waitMs > 0 ? 'all' : send ? 'first' : 'none'
  }
  let request: Uint8Array
  if (Array.isArray(o.request)) {
    if (!o.request.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) throw new Error('"request" must hold byte values 0-255')
    request = Uint8Array.from(o.request as number[])
  } else if (typeof o.request === 'string') {
    try {
      request = Uint8Array.from(atob(o.request), (ch) => ch.charCodeAt(0))
    } catch {
      throw new Error('"request" is a string but not base64')
    }
  } else {
    throw new Error('"request" is missing: an array of bytes (or a base64 string)')
  }
  if (request.length === 0) throw new Error('"request" is empty')
  if (request.length > MAX_DATAGRAM) throw new Error(`"request" holds ${request.length} bytes, more than a UDP datagram (${MAX_DATAGRAM})`)
  return { id, request, answer, waitMs, form }
}

/** A JSON answer, gzipped above uhppoted-tunnel's threshold when the client accepts it. */
async function jsonAnswer(req: Request, value: unknown): Promise<Response> {
  const body = JSON.stringify(value)
  if (body.length > GZIP_MINIMUM && /\bgzip\b/i.test(req.headers.get('accept-encoding') ?? '')) {
    const gz = new Response(new Blob([body]).stream().pipeThrough(new CompressionStream('gzip')))
    return new Response(await gz.arrayBuffer(), { headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } })
  }
  return new Response(body, { headers: { 'content-type': 'application/json' } })
}

/** An error answer as Go's http.Error writes it (uhppoted-tunnel's): the text, a newline, plain text in utf-8. */
function goError(text: string, status: number, headers: Record<string, string> = {}): Response {
  return new Response(`${text}\n`, { status, headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff', ...headers } })
}

/**
 * The --html pages' Content-Security-Policy: everything from this server only, nothing framed,
 * no plugins, no base or form targets elsewhere. Inline scripts and styles stay allowed because
 * uhppoted-tunnel's own pages use them (inline onclick handlers and a module script).
 */
export const PAGE_CSP = "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

/**
 * Reads a request body up to `max` bytes as it arrives: a declared or actual length past `max` is
 * refused without reading (or holding) the rest.
 */
export async function readBodyLimited(req: Request, max: number): Promise<Uint8Array | undefined> {
  const declared = Number(req.headers.get('content-length') ?? 0)
  if (declared > max) return undefined
  if (!req.body) return new Uint8Array(0)
  const reader = req.body.getReader()
  const parts: Uint8Array[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.length
    if (total > max) {
      await reader.cancel().catch(() => {})
      return undefined
    }
    parts.push(value)
  }
  return concatBytes(parts, total)
}

export function httpIn(ctx: HalfContext, spec: ConnectorSpec, secure: boolean): InConnector {
  const rt = ctx.runtime
  const text = spec.text
  const name = secure ? 'https' : 'http'
  const log = ctx.logger.child(name)
  if (!rt.serveHttp) throw new RelayError('E_CONFIG', `${text}: HTTP is not available on the ${rt.name} runtime`)
  const endpoint = spec.endpoint
  if (!endpoint) throw new RelayError('E_CONFIG', `${text}: needs an address to listen on (${name}/0.0.0.0:8080)`)
  for (const key of Object.keys(spec.options)) throw new RelayError('E_CONFIG', `${text}: unknown option '${key}' for ${name}`)
  const tls = secure ? httpTlsOf(ctx) : undefined
  if (secure && !tls) throw new RelayError('E_CONFIG', `${text}: https needs --cert and --key (its certificate and private key, PEM files)`)
  if (secure && ctx.options.tls.clientAuth && !ctx.options.tls.caCert) throw new RelayError('E_CONFIG', `${text}: --client-auth needs --ca-cert (the CA that signs the client certificates)`)
  const html = ctx.options.html
  const serveHttp = rt.serveHttp.bind(rt)
  let listeners: StreamListener[] = []
  let out: PacketSink | undefined
  let nextId = 1
  const pending = new Set<() => void>()

  const udp = async (req: Request, path: '/udp/send' | '/udp/broadcast', remote: SocketAddress): Promise<Response> => {
    const contentType = (req.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase()
    if (contentType !== 'application/json') {
      ctx.drops.drop('http_bad_request', `${formatAddress(remote)}: Invalid request content-type (${contentType})`)
      return goError(`Invalid request content-type (${contentType})`, 400)
    }
    // One more request in progress within the half's limit? (Each may hold a UDP socket.)
    const budget = ctx.limits.httpRequests
    if (!budget.take()) {
      const reason = `too many HTTP requests in progress (${budget.used}, the limit set by --max-http-requests)`
      ctx.limits.refused(remote, 'max-http-requests', reason, 'HTTP request')
      return goError(reason, 503, { 'retry-after': '1', 'x-edgerelay-error': 'E_LIMIT' })
    }
    let held = true
    // A request answered at once keeps its place while its flow lingers, and gives it back then.
    const keep = () => {
      held = false
      return () => budget.give()
    }
    try {
      const raw = await readBodyLimited(req, MAX_BODY)
      if (!raw) {
        ctx.drops.drop('http_body_too_large', `${formatAddress(remote)} sent a ${path} body over ${MAX_BODY} bytes`)
        return goError(`Request body larger than ${MAX_BODY} bytes`, 413, { connection: 'close' })
      }
      return await send(req, path, raw, keep, remote)
    } finally {
      if (held) budget.give()
    }
  }

  const send = async (req: Request, path: '/udp/send' | '/udp/broadcast', raw: Uint8Array, keep: () => () => void, remote: SocketAddress): Promise<Response> => {
    let parsed: UdpRequest
    try {
      parsed = parseUdpRequest(JSON.parse(new TextDecoder().decode(raw)), path)
    } catch (err) {
      // uhppoted-tunnel's body for every unreadable request; the reason goes to the log.
      ctx.drops.drop('http_bad_request', `${formatAddress(remote)} ${path}: ${(err as Error).message}`)
      ctx.stats.add('http.bad_requests')
      return goError('Invalid request body', 400)
    }
    if (!out) return goError('Not ready', 503)
    const id = nextId
    nextId = nextId >= 0xffffffff ? 1 : nextId + 1
    const replies: Uint8Array[] = []
    let wake: (() => void) | undefined
    const flow = new Flow(`http request ${id}`, (_rid, payload) => {
      replies.push(payload.slice())
      ctx.stats.add('http.replies')
      if (parsed.answer === 'first') wake?.()
    }, Date.now())
    ctx.stats.add('http.requests')
    if (parsed.answer === 'none') {
      // Answered at once, but the flow lives for --udp-timeout: its socket may still be opening,
      // and closing it now would drop the request unsent.
      out.send(flow, 'request', id, parsed.request)
      const done = keep()
      const linger = () => {
        clearTimeout(timer)
        pending.delete(linger)
        flow.close()
        done()
      }
      const timer = setTimeout(linger, ctx.options.udpTimeoutMs)
      pending.add(linger)
      return jsonAnswer(req, parsed.form === 'reply' ? { ID: parsed.id } : { ID: parsed.id, replies: [] })
    }
    try {
      await new Promise<void>((resolve) => {
        const ms = parsed.answer === 'first' ? FIRST_REPLY_MS : parsed.waitMs
        const timer = setTimeout(() => done(), ms)
        const done = () => {
          clearTimeout(timer)
          pending.delete(done)
          resolve()
        }
        wake = done
        pending.add(done)
        out!.send(flow, 'request', id, parsed.request)
      })
    } finally {
      flow.close()
    }
    if (parsed.answer === 'first' && replies.length === 0) return goError('Request cancelled', 500)
    return jsonAnswer(req, parsed.form === 'reply' ? { ID: parsed.id, reply: Array.from(replies[0]!) } : { ID: parsed.id, replies: replies.map((r) => Array.from(r)) })
  }

  const files = async (req: Request, pathname: string): Promise<Response> => {
    if (!html || !rt.readStatic) return goError('404 page not found', 404)
    let path: string
    try {
      path = decodeURIComponent(pathname)
    } catch {
      return goError('Bad path', 400)
    }
    const segments = path.split('/').filter((s) => s !== '')
    // uhppoted-tunnel refuses any path element starting with a dot (dot-files and '..').
    if (segments.some((s) => s.startsWith('.') || s.includes('\\') || s.includes('\0'))) return goError('403 Forbidden', 403)
    let entry = await rt.readStatic(html, segments.join('/'))
    let served = segments
    if (entry?.kind === 'directory') {
      // Always a path on this server: built from the segments, so `//host/x` cannot become a
      // protocol-relative Location pointing elsewhere.
      if (!path.endsWith('/')) return new Response(null, { status: 301, headers: { location: `/${segments.map(encodeURIComponent).join('/')}/` } })
      served = [...segments, 'index.html']
      entry = await rt.readStatic(html, served.join('/'))
      // No directory listings.
      if (entry?.kind !== 'file') return goError('403 Forbidden', 403)
    }
    if (!entry || entry.kind !== 'file') return goError('404 page not found', 404)
    const ext = served.at(-1)?.split('.').pop()?.toLowerCase() ?? ''
    return new Response(req.method === 'HEAD' ? null : (entry.data as Uint8Array<ArrayBuffer>), {
      headers: { 'content-type': TYPES[ext] ?? 'application/octet-stream', 'content-length': String(entry.data.length), 'content-security-policy': PAGE_CSP },
    })
  }

  const answer = (req: Request, info: HttpRequestInfo): Response | Promise<Response> => {
    // The HTTP API has no token: a peer that sent a request is as authenticated as it gets.
    info.ticket?.authenticated()
    const pathname = new URL(req.url).pathname
    if (pathname === '/udp/broadcast' || pathname === '/udp/send') return req.method === 'POST' ? udp(req, pathname, info.remote) : goError('Invalid request', 405)
    if (req.method !== 'GET' && req.method !== 'HEAD') return goError('Invalid request', 405)
    if (pathname === '/healthz') return jsonResponse({ status: 'ok', connector: name, requests: ctx.stats.get('http.requests') })
    return files(req, pathname)
  }
  const headers = securityHeaders(secure)
  const handler: HttpHandler = async (req, info) => withHeaders(await answer(req, info), headers)

  return {
    async start(sink) {
      out = sink
      // A missing --html folder is a mistake to report now, not a 404 for every page later.
      if (html !== undefined && (!rt.readStatic || (await rt.readStatic(html, ''))?.kind !== 'directory')) {
        throw new RelayError('E_CONFIG', `${text}: --html '${html}' is not a folder that can be read (it does not exist, or is a file)`)
      }
      const addrs = await resolveListen(rt, endpoint, text, ctx.options.family)
      listeners = await bindAll(text, addrs, endpoint.port, endpoint.hostKind === 'wildcard', (addr, port) =>
        serveHttp({ ...listenAt(addr, port), tls, handler, gate: ctx.limits.gate, helloTimeoutMs: ctx.options.helloTimeoutMs }), (m) => log.warn(m))
      for (const l of listeners) log.info(`listening on ${formatAddress(l.local)}${html ? ` (static files from ${html})` : ''}`)
      warnIfOpen(ctx, log, name, listeners, '', false)
    },
    async close() {
      for (const wake of [...pending]) wake()
      await Promise.all(listeners.map((l) => l.close()))
    },
    addresses: () => listeners.map((l) => l.local),
  }
}

/** http and https: uhppoted-tunnel's JSON API as an in connector. */
export const httpConnector = (secure: boolean): ConnectorFactory => ({ in: (s, ctx) => httpIn(ctx, s, secure) })
