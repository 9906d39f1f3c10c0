/**
 * WebSocket as a tunnel transport (DESIGN.md §3): `ws/server:host:port/path` and
 * `ws/client:ws://host:port/path` (or wss://). No hello: the codec and version are agreed with
 * `Sec-WebSocket-Protocol: edgerelay.v1.<codec>`, the token travels in `Authorization: Bearer` (or
 * a `edgerelay.token.<base64url>` subprotocol entry, for browsers). Each binary message carries
 * one or more `u32 length | codec bytes` frames. The server is a Hono app that also answers
 * `GET /healthz`; refused upgrades get an HTTP status, a one-line reason and an E_* code.
 */
import { Hono } from 'hono'
import type { Runtime, TlsClientOptions } from '../adapter/types.ts'
import type { HttpTlsOptions } from '../adapter/http-types.ts'
import type { HalfContext } from '../core/connector.ts'
import { RelayError } from '../core/errors.ts'
import { tunnelBound } from '../core/tunnel/bounded-conn.ts'
import { negotiateWebSocket, refusalHeaders, subprotocolFor, type Refusal } from '../core/tunnel/negotiate.ts'
import { negotiatedWire } from '../core/tunnel/wire.ts'
import type { ConnectorSpec } from '../net/connector-string.ts'
import { dialFirst } from '../net/dial.ts'
import type { StreamTransport } from './stream-tunnel.ts'
import { wireFor } from './wire-for.ts'

/** The WebSocket status of a refusal, in words users can act on. */
function refusalResponse(r: Refusal): Response {
  return new Response(`${r.reason}\n`, { status: r.status, headers: refusalHeaders(r) })
}

/** Pulls TLS server material out of the half's options (ws/server with --cert/--key → wss). */
export function httpTlsOf(ctx: HalfContext): HttpTlsOptions | undefined {
  const m = ctx.options.tls
  if (!m?.cert || !m.key) return undefined
  return { cert: m.cert, key: m.key, ca: m.clientAuth ? m.caCert : undefined, requestCert: m.clientAuth ?? false }
}

/** A runtime whose connectTcp dials TLS (for the race in the address layer), or the runtime itself. */
export function tlsDialer(ctx: HalfContext, text: string, servername: string | undefined, alpn?: string[]): Runtime {
  const rt = ctx.runtime
  if (!rt.connectTls) throw new RelayError('E_CONFIG', `${text}: TLS is not available on the ${rt.name} runtime`)
  const m = ctx.options.tls ?? {}
  const tls: TlsClientOptions = { ca: m.caCert, cert: m.cert, key: m.key, servername, handshakeTimeoutMs: ctx.options.helloTimeoutMs, ...(alpn ? { alpn } : {}) }
  const connectTls = rt.connectTls.bind(rt)
  return { ...rt, connectTcp: (o) => connectTls({ ...o, tls, connectTimeoutMs: ctx.options.connectTimeoutMs }) }
}

export function wsTransport(ctx: HalfContext, role: 'server' | 'client', spec: ConnectorSpec): StreamTransport {
  const rt = ctx.runtime
  const text = spec.text
  const codec = ctx.options.codec
  const token = ctx.options.token
  const name = `ws/${role}`
  if (!rt.serveHttp || !rt.connectWebSocket) throw new RelayError('E_CONFIG', `${text}: WebSocket is not available on the ${rt.name} runtime`)
  for (const key of Object.keys(spec.options)) throw new RelayError('E_CONFIG', `${text}: unknown option '${key}' for ${name}`)
  const wire = negotiatedWire(wireFor(codec), { messageFramed: true })
  const bound = tunnelBound(ctx, name)

  if (role === 'server') {
    const path = spec.path ?? '/'
    const tls = httpTlsOf(ctx)
    const serveHttp = rt.serveHttp.bind(rt)
    const check = (req: Request): Response | undefined => {
      if (new URL(req.url).pathname !== path) return undefined
      const verdict = negotiateWebSocket(req.headers.get('sec-websocket-protocol'), req.headers.get('authorization'), codec, token)
      if (verdict.ok) return undefined
      ctx.stats.add('tunnel.refused')
      ctx.logger.child(name).warn(`refused WebSocket upgrade: ${verdict.reason}`)
      return refusalResponse(verdict)
    }
    return {
      name,
      wire,
      listen: (addr, port, onConnection) => serveHttp({
        address: addr.address,
        port,
        family: addr.family,
        ipv6Only: addr.family === 6,
        tls,
        checkUpgrade: (req) => (req.headers.get('upgrade')?.toLowerCase() === 'websocket' ? check(req) : undefined),
        app: (upgrade) => {
          const app = new Hono()
          app.get('/healthz', (c) => c.json({ status: 'ok', connector: name, codec, subprotocol: subprotocolFor(codec) }))
          app.get(path, (c) => {
            if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
              return c.text(`this is an edgerelay WebSocket tunnel: connect with Upgrade: websocket and Sec-WebSocket-Protocol: ${subprotocolFor(codec)}\n`, 426, { upgrade: 'websocket' })
            }
            const refused = check(c.req.raw)
            if (refused) return refused
            return upgrade(c, { protocol: subprotocolFor(codec), onOpen: (conn) => onConnection(bound(conn)) })
          })
          app.notFound((c) => c.text(`not found: the tunnel is at ${path}, health at /healthz\n`, 404))
          return app
        },
      }),
      dial: () => Promise.reject(new RelayError('E_CONFIG', `${name} does not dial`)),
    }
  }

  const url = spec.url
  if (!url) throw new RelayError('E_CONFIG', `${text}: ws/client needs a URL (ws://host:port/path or wss://...)`)
  const secure = url.startsWith('wss:')
  const endpoint = spec.endpoint
  const host = endpoint && endpoint.hostKind !== 'wildcard' ? endpoint.host : undefined
  const dialer = secure ? tlsDialer(ctx, text, host) : rt
  const connectWebSocket = rt.connectWebSocket.bind(rt)
  const { connectTimeoutMs, helloTimeoutMs } = ctx.options
  return {
    name,
    wire,
    listen: () => Promise.reject(new RelayError('E_CONFIG', `${name} does not listen`)),
    async dial(addresses, port, signal) {
      const conn = await dialFirst(dialer, text, addresses, port, connectTimeoutMs + (secure ? helloTimeoutMs : 0), signal)
      try {
        const ws = await connectWebSocket({
          conn,
          url,
          protocols: [subprotocolFor(codec)],
          headers: token !== undefined ? { authorization: `Bearer ${token}` } : {},
          handshakeTimeoutMs: helloTimeoutMs,
        })
        return bound(ws)
      } catch (err) {
        const e = err as { serverCode?: string; status?: number; reason?: string; message: string }
        if (e.status !== undefined) {
          const code = e.serverCode === 'E_AUTH' || e.serverCode === 'E_CODEC_MISMATCH' ? e.serverCode : 'E_HELLO_REFUSED'
          throw new RelayError(code, `${text}: server refused the tunnel: HTTP ${e.status}: ${e.reason ?? ''}`, { cause: err })
        }
        throw new RelayError('E_WS_UPGRADE', `${text}: ${e.message}`, { cause: err })
      }
    },
  }
}
