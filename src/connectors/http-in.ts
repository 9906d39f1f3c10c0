/**
 * `http/<addr>` and `https/<addr>` in-connectors: uhppoted-tunnel's HTTP API, so its browser pages
 * and scripts keep working against edgerelay:
 *
 *   POST /udp/broadcast, POST /udp/send   (Content-Type: application/json)
 *     {"ID": 7, "wait": "5s", "request": [23, 32, 0, ...]}   ("request" may also be base64)
 *   → {"ID": 7, "replies": [[23, 32, ...], ...]}
 *
 * Each POST is a request through the half's out connector (a tunnel or a UDP socket); the
 * replies that arrive within `wait` (a Go duration, default 5s) are returned together. With
 * "wait": "0s" the first reply is returned at once (500 "Request cancelled" if none comes within
 * 5 s). Other paths serve static files from --html (no dot-files, no directory listings), and
 * GET /healthz answers with the half's state. Both endpoints behave the same: where a request
 * goes is the out connector's business (udp/broadcast sends to whatever address it was given).
 */
import type { HttpHandler } from '../ports/http.ts'
import type { StreamListener } from '../ports/runtime.ts'
import type { HalfContext, InConnector, PacketSink } from '../core/connector.ts'
import { parseDuration } from '../base/duration.ts'
import { RelayError } from '../base/errors.ts'
import { Flow } from '../core/flow.ts'
import { MAX_DATAGRAM } from '../protocol/frame.ts'
import { bindAll, listenAt } from '../net/bind-all.ts'
import type { ConnectorSpec } from '../net/connector-string.ts'
import { resolveListen } from '../net/resolve.ts'
import { jsonResponse, textResponse } from './http-response.ts'
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

/** A request body as uhppoted-tunnel reads it. Throws a message for a 400. */
export function parseUdpRequest(body: unknown): { id: number; waitMs: number; request: Uint8Array } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error('the body must be a JSON object')
  const o = body as Record<string, unknown>
  const id = o.ID ?? 0
  if (typeof id !== 'number' || !Number.isInteger(id)) throw new Error('"ID" must be an integer')
  let waitMs = DEFAULT_WAIT_MS
  if (o.wait !== undefined) {
    if (typeof o.wait !== 'string') throw new Error('"wait" must be a duration string such as "5s" or "500ms"')
    try {
      waitMs = parseDuration(o.wait, 'wait')
    } catch {
      throw new Error(`"wait" is not a duration: ${JSON.stringify(o.wait)} (use forms like 500ms, 5s, 1m30s)`)
    }
    if (waitMs > MAX_WAIT_MS) throw new Error(`"wait" may be at most ${MAX_WAIT_MS / 1000}s`)
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
  return { id, waitMs, request }
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

  const udp = async (req: Request): Promise<Response> => {
    const contentType = (req.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase()
    if (contentType !== 'application/json') return textResponse(`Invalid request content-type (${contentType})\n`, 400)
    const raw = await req.arrayBuffer()
    if (raw.byteLength > MAX_BODY) return textResponse(`Request body larger than ${MAX_BODY} bytes\n`, 413)
    let parsed
    try {
      parsed = parseUdpRequest(JSON.parse(new TextDecoder().decode(raw)))
    } catch (err) {
      ctx.stats.add('http.bad_requests')
      return textResponse(`Invalid request body: ${(err as Error).message}\n`, 400)
    }
    if (!out) return textResponse('Not ready\n', 503)
    const id = nextId
    nextId = nextId >= 0xffffffff ? 1 : nextId + 1
    const replies: Uint8Array[] = []
    let wake: (() => void) | undefined
    const flow = new Flow(`http request ${id}`, (_rid, payload) => {
      replies.push(payload.slice())
      ctx.stats.add('http.replies')
      if (parsed.waitMs === 0) wake?.()
    }, Date.now())
    ctx.stats.add('http.requests')
    try {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => done(), parsed.waitMs === 0 ? FIRST_REPLY_MS : parsed.waitMs)
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
    if (parsed.waitMs === 0 && replies.length === 0) return textResponse('Request cancelled\n', 500)
    const body = JSON.stringify({ ID: parsed.id, replies: replies.map((r) => Array.from(r)) })
    if (body.length > GZIP_MINIMUM && /\bgzip\b/i.test(req.headers.get('accept-encoding') ?? '')) {
      const gz = new Response(new Blob([body]).stream().pipeThrough(new CompressionStream('gzip')))
      return new Response(await gz.arrayBuffer(), { headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } })
    }
    return new Response(body, { headers: { 'content-type': 'application/json' } })
  }

  const files = async (req: Request, pathname: string): Promise<Response> => {
    if (!html || !rt.readStatic) return textResponse('Not found\n', 404)
    let path: string
    try {
      path = decodeURIComponent(pathname)
    } catch {
      return textResponse('Bad path\n', 400)
    }
    const segments = path.split('/').filter((s) => s !== '')
    // uhppoted-tunnel refuses any path element starting with a dot (dot-files and '..').
    if (segments.some((s) => s.startsWith('.') || s.includes('\\') || s.includes('\0'))) return textResponse('Forbidden\n', 403)
    let entry = await rt.readStatic(html, segments.join('/'))
    let served = segments
    if (entry?.kind === 'directory') {
      if (!path.endsWith('/')) return new Response(null, { status: 301, headers: { location: `${path}/` } })
      served = [...segments, 'index.html']
      entry = await rt.readStatic(html, served.join('/'))
      // No directory listings.
      if (entry?.kind !== 'file') return textResponse('Forbidden\n', 403)
    }
    if (!entry || entry.kind !== 'file') return textResponse('Not found\n', 404)
    const ext = served.at(-1)?.split('.').pop()?.toLowerCase() ?? ''
    return new Response(req.method === 'HEAD' ? null : (entry.data as Uint8Array<ArrayBuffer>), {
      headers: { 'content-type': TYPES[ext] ?? 'application/octet-stream', 'content-length': String(entry.data.length) },
    })
  }

  const handler: HttpHandler = (req) => {
    const pathname = new URL(req.url).pathname
    if (pathname === '/udp/broadcast' || pathname === '/udp/send') return req.method === 'POST' ? udp(req) : textResponse('Invalid request\n', 405)
    if (req.method !== 'GET' && req.method !== 'HEAD') return textResponse('Invalid request\n', 405)
    if (pathname === '/healthz') return jsonResponse({ status: 'ok', connector: name, requests: ctx.stats.get('http.requests') })
    return files(req, pathname)
  }

  return {
    async start(sink) {
      out = sink
      const addrs = await resolveListen(rt, endpoint, text, ctx.options.family)
      listeners = await bindAll(text, addrs, endpoint.port, endpoint.hostKind === 'wildcard', (addr, port) =>
        serveHttp({ ...listenAt(addr, port), tls, handler }), (m) => log.warn(m))
      for (const l of listeners) log.info(`listening on ${formatAddress(l.local)}${html ? ` (static files from ${html})` : ''}`)
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
