/**
 * WebSocket as a tunnel transport (docs/wire-protocol.md#websocket): `ws/server:host:port/path` and
 * `ws/client:ws://host:port/path` (or wss://). No hello: the codec and version are agreed with
 * `Sec-WebSocket-Protocol: edgerelay.v1.<codec>`, the token travels in `Authorization: Bearer` (or
 * a `edgerelay.token.<base64url>` subprotocol entry, for browsers). Each binary message carries
 * one or more `u32 length | codec bytes` frames. The server also answers `GET /healthz`; refused
 * upgrades get an HTTP status, a one-line reason and an E_* code.
 */
import { listenAt } from '../net/bind-all.ts'
import type { Runtime, TlsClientOptions } from '../ports/runtime.ts'
import type { HttpHandler, HttpRequestInfo } from '../ports/http.ts'
import type { SocketAddress, StreamConn } from '../ports/runtime.ts'
import { fixedCodec, type HalfContext } from '../core/connector.ts'
import { RelayError } from '../base/errors.ts'
import { negotiateWebSocket, refusalHeaders, subprotocolFor, type Refusal } from '../protocol/negotiate.ts'
import { negotiatedWire } from '../protocol/wire.ts'
import type { ConnectorSpec } from '../net/connector-string.ts'
import { jsonResponse, securityHeaders, textResponse, withHeaders } from './http-response.ts'
import type { StreamTransport } from './stream-tunnel.ts'
import { firstHop, httpTlsOf } from './tls-settings.ts'
import { wireFor } from '../protocol/wire-for.ts'
import { formatAddress } from '../base/address.ts'
import { tunnelConnector } from './stream-tunnel.ts'
import { peerKey } from '../base/limits.ts'
import { MAX_BATCH_BYTES } from '../base/message-batch.ts'

/** The WebSocket status of a refusal, in words users can act on. */
function refusalResponse(r: Refusal): Response {
  return new Response(`${r.reason}\n`, { status: r.status, headers: refusalHeaders(r) })
}

export interface WebSocketTunnelHandlerOptions {
  /** `ws/server` (logs, /healthz). */
  name: string
  /** URL path of the tunnel. */
  path: string
  codec: string
  token: string | undefined
  /** A refused upgrade (bad offer, wrong token), already answered with its status. */
  onRefused(refusal: Refusal, remote: SocketAddress): void
  /** An accepted tunnel connection, once the WebSocket is open. */
  onOpen(conn: StreamConn): void
  /** Served over TLS (wss): every answer carries HSTS. */
  secure?: boolean
}

/**
 * The server side of the WebSocket tunnel as an HTTP handler: `GET /healthz`, the upgrade at
 * `path` negotiated and authenticated before anything is accepted (docs/wire-protocol.md), 426 for
 * a plain GET of the tunnel path, 404 elsewhere. ws/server serves it; the edge entries run it on
 * the platform's requests.
 */
export function webSocketTunnelHandler(o: WebSocketTunnelHandlerOptions): HttpHandler {
  const subprotocol = subprotocolFor(o.codec)
  const headers = securityHeaders(o.secure ?? false)
  const answer = (req: Request, info: HttpRequestInfo): Response => {
    const url = new URL(req.url)
    const readOnly = req.method === 'GET' || req.method === 'HEAD'
    if (url.pathname === '/healthz' && readOnly) return jsonResponse({ status: 'ok', connector: o.name, codec: o.codec, subprotocol })
    if (url.pathname !== o.path || !readOnly) return textResponse(`not found: the tunnel is at ${o.path}, health at /healthz\n`, 404)
    if (req.headers.get('upgrade')?.toLowerCase() !== 'websocket' || !info.upgrade) {
      return textResponse(`this is an edgerelay WebSocket tunnel: connect with Upgrade: websocket and Sec-WebSocket-Protocol: ${subprotocol}\n`, 426, { upgrade: 'websocket' })
    }
    const verdict = negotiateWebSocket(req.headers.get('sec-websocket-protocol'), req.headers.get('authorization'), o.codec, o.token)
    if (!verdict.ok) {
      o.onRefused(verdict, info.remote)
      return refusalResponse(verdict)
    }
    // Negotiated and authenticated: only now does the connection stop counting as pending.
    info.ticket?.authenticated()
    return info.upgrade({ protocol: verdict.protocol, onOpen: o.onOpen })
  }
  return (req, info) => withHeaders(answer(req, info), headers)
}

export function wsTransport(ctx: HalfContext, role: 'server' | 'client', spec: ConnectorSpec): StreamTransport {
  const rt = ctx.runtime
  const text = spec.text
  const codec = fixedCodec(ctx, text)
  const token = ctx.options.token
  const name = `ws/${role}`
  if (!rt.serveHttp || !rt.connectWebSocket) throw new RelayError('E_CONFIG', `${text}: WebSocket is not available on the ${rt.name} runtime`)
  for (const key of Object.keys(spec.options)) throw new RelayError('E_CONFIG', `${text}: unknown option '${key}' for ${name}`)
  const wire = negotiatedWire(wireFor(codec), { messageFramed: true })

  if (role === 'server') {
    const path = spec.path ?? '/'
    const tls = httpTlsOf(ctx)
    const serveHttp = rt.serveHttp.bind(rt)
    const log = ctx.logger.child(name)
    const limited = ctx.warnings.through(log)
    return {
      name,
      wire,
      listen: (addr, port, onConnection) => serveHttp({
        ...listenAt(addr, port),
        tls,
        gate: ctx.limits.gate,
        helloTimeoutMs: ctx.options.helloTimeoutMs,
        maxMessageBytes: MAX_BATCH_BYTES,
        handler: webSocketTunnelHandler({
          name,
          path,
          codec,
          token,
          secure: tls !== undefined,
          onRefused(refusal, remote) {
            ctx.stats.add('tunnel.refused')
            limited.warn(`${name} refused upgrade: ${refusal.code}`, peerKey(remote.address), `refused WebSocket upgrade from ${formatAddress(remote)}: ${refusal.reason}`, { peer: formatAddress(remote), code: refusal.code })
          },
          onOpen: onConnection,
        }),
      }),
    }
  }

  const url = spec.url
  if (!url) throw new RelayError('E_CONFIG', `${text}: ws/client needs a URL (ws://host:port/path or wss://...)`)
  const secure = url.startsWith('wss:')
  const endpoint = spec.endpoint
  if (!endpoint) throw new RelayError('E_CONFIG', `${text}: ws/client needs a host in its URL`)
  const hop = firstHop(ctx, name, text, endpoint, { tls: secure, scheme: secure ? 'wss' : 'ws' })
  const connectWebSocket = rt.connectWebSocket.bind(rt)
  const { helloTimeoutMs } = ctx.options
  return {
    name,
    wire,
    async dial(signal) {
      const conn = await hop(signal)
      try {
        const ws = await connectWebSocket({
          conn,
          url,
          protocols: [subprotocolFor(codec)],
          headers: token !== undefined ? { authorization: `Bearer ${token}` } : {},
          handshakeTimeoutMs: helloTimeoutMs,
        })
        return ws
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

export const wsConnector = tunnelConnector(wsTransport)
