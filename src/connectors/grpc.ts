/**
 * gRPC as a tunnel transport (docs/wire-protocol.md#grpc): service edgerelay.v1.Tunnel, bidi method
 * `Relay(stream Frame) returns (stream Frame)` from codecs/schema/edgerelay.proto, with real gRPC
 * framing (grpc/PROTOCOL-HTTP2.md: `u8 compressed | u32 length | message`) and trailers
 * (grpc-status, grpc-message) over HTTP/2, plain (h2c) or TLS. Each gRPC call is one tunnel
 * connection; the token is `authorization: Bearer <token>` metadata; the codec is the
 * content-type (`application/grpc` and `application/grpc+proto` are protobuf, a stock client's
 * choice; `application/grpc+avro`, `+msgpack`, `+uhppoted` for the other codecs).
 * A client that half-closes still gets the replies of its requests: the server ends the call
 * with status OK one --udp-timeout after the client's end of stream.
 */
import { formatAddress } from '../base/address.ts'
import { listenAt } from '../net/bind-all.ts'
import type { Http2Stream, Http2StreamHandlers } from '../ports/http.ts'
import type { GateTicket, SocketAddress, StreamConn, StreamHandlers } from '../ports/runtime.ts'
import { peerKey } from '../base/limits.ts'
import { codecByName } from '../protocol/codecs/index.ts'
import { fixedCodec, type HalfContext } from '../core/connector.ts'
import { RelayError } from '../base/errors.ts'
import { sameSecret } from '../protocol/hello.ts'
import { bearerToken } from '../protocol/negotiate.ts'
import { grpcWire } from '../protocol/wire.ts'
import type { ConnectorSpec } from '../net/connector-string.ts'
import { formatHost } from '../net/endpoint.ts'
import type { StreamTransport } from './stream-tunnel.ts'
import { firstHop, httpTlsOf } from './tls-settings.ts'
import { tunnelConnector } from './stream-tunnel.ts'

export const RELAY_PATH = '/edgerelay.v1.Tunnel/Relay'
/** Calls one HTTP/2 connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS); --max-grpc-calls bounds all of them. */
const MAX_STREAMS_PER_CONNECTION = 100

/** gRPC status codes used here (grpc/doc/statuscodes.md). */
export const GrpcStatus = { OK: 0, CANCELLED: 1, INVALID_ARGUMENT: 3, RESOURCE_EXHAUSTED: 8, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, UNAUTHENTICATED: 16 } as const

/** The content-type for a codec. */
export function grpcContentType(codec: string): string {
  return codec === 'protobuf' ? 'application/grpc+proto' : `application/grpc+${codec}`
}

/** The codec a content-type asks for, or undefined when it is not gRPC at all. */
export function codecOfContentType(contentType: string | undefined): string | undefined {
  const m = /^application\/grpc(?:\+([A-Za-z0-9._-]+))?\s*(?:;.*)?$/i.exec(contentType ?? '')
  if (!m) return undefined
  const sub = (m[1] ?? 'proto').toLowerCase()
  return sub === 'proto' ? 'protobuf' : sub
}

/** grpc-message is percent-encoded: bytes outside 0x20–0x7E, and '%' itself. */
export function encodeGrpcMessage(text: string): string {
  let out = ''
  for (const b of new TextEncoder().encode(text)) out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`
  return out
}

export function decodeGrpcMessage(text: string | undefined): string {
  if (!text) return ''
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/**
 * A gRPC call as a StreamConn. Messages are not aligned with DATA frames: the grpc wire's reader
 * reassembles them. The server side ends with trailers; the client side half-closes.
 */
class GrpcConn implements StreamConn {
  readonly remote: SocketAddress
  readonly local: SocketAddress
  private readonly stream: Http2Stream
  private readonly side: 'server' | 'client'
  private handlers: StreamHandlers | undefined
  private early: Uint8Array[] = []
  private closed = false
  private closeError: Error | undefined
  private endTimer: ReturnType<typeof setTimeout> | undefined
  /** Client: settles when the response headers (or a Trailers-Only refusal) arrived. */
  readonly response: Promise<void>
  private settleResponse!: (err?: Error) => void
  /** Client: called once the call is over, to close its HTTP/2 session. */
  onFinished: (() => void) | undefined

  constructor(stream: Http2Stream, remote: SocketAddress, local: SocketAddress, side: 'server' | 'client', peerEndGraceMs: number) {
    this.stream = stream
    this.remote = remote
    this.local = local
    this.side = side
    this.response = new Promise((resolve, reject) => {
      this.settleResponse = (err) => (err ? reject(err) : resolve())
    })
    this.response.catch(() => {})
    const h: Http2StreamHandlers = {
      onData: (chunk) => {
        if (this.handlers) this.handlers.onData(chunk)
        else this.early.push(chunk.slice())
      },
      onResponse: (headers) => this.onResponse(headers),
      onTrailers: (trailers) => {
        const status = Number(trailers['grpc-status'] ?? GrpcStatus.OK)
        if (status !== GrpcStatus.OK) this.closeError = new RelayError(trailers['x-edgerelay-error'] ?? 'E_GRPC_STATUS', `the server ended the call with gRPC status ${status}: ${decodeGrpcMessage(trailers['grpc-message'])}`)
      },
      onEnd: () => {
        // Server: the client sent all it will send; its replies may still be on their way.
        if (side === 'server' && !this.closed) {
          this.endTimer = setTimeout(() => this.end(), peerEndGraceMs)
        }
      },
      onClose: (err) => this.onClosed(err),
    }
    stream.setHandlers(h)
  }

  private onResponse(headers: Record<string, string>): void {
    const status = headers[':status']
    const grpcStatus = headers['grpc-status']
    if (status !== '200') {
      this.settleResponse(new RelayError('E_GRPC_HTTP', `the server answered HTTP ${status} (${headers['content-type'] ?? 'no content-type'}): not a gRPC endpoint`))
    } else if (grpcStatus !== undefined && grpcStatus !== '0') {
      const code = headers['x-edgerelay-error'] ?? (grpcStatus === String(GrpcStatus.UNAUTHENTICATED) ? 'E_AUTH' : 'E_HELLO_REFUSED')
      this.settleResponse(new RelayError(code, `server refused the tunnel: gRPC status ${grpcStatus}: ${decodeGrpcMessage(headers['grpc-message'])}`))
    } else if (codecOfContentType(headers['content-type']) === undefined) {
      this.settleResponse(new RelayError('E_GRPC_HTTP', `the server answered with content-type ${headers['content-type'] ?? '(none)'}: not gRPC`))
    } else {
      this.settleResponse()
    }
  }

  private onClosed(err?: Error): void {
    if (this.closed) return
    this.closed = true
    if (this.endTimer !== undefined) clearTimeout(this.endTimer)
    const error = this.closeError ?? err
    this.settleResponse(error ?? new RelayError('E_GRPC_CLOSED', 'the call ended before the server answered'))
    this.onFinished?.()
    this.handlers?.onClose(error)
  }

  write(data: Uint8Array): boolean {
    return this.stream.write(data)
  }

  get bufferedAmount(): number {
    return this.stream.bufferedAmount
  }

  setHandlers(h: StreamHandlers): void {
    this.handlers = h
    for (const c of this.early.splice(0)) h.onData(c)
    if (this.closed) h.onClose(this.closeError)
  }

  end(reason?: Error): void {
    if (this.closed) return
    if (this.side === 'client') this.stream.end()
    else if (reason) this.stream.end(errorTrailers(reason))
    else this.stream.end({ 'grpc-status': String(GrpcStatus.OK) })
  }

  destroy(err?: Error): void {
    if (this.closed) return
    if (this.side === 'server' && err) {
      this.stream.end(errorTrailers(err))
      setTimeout(() => this.stream.cancel(), 500)
    } else {
      this.stream.cancel()
    }
  }
}

/** The trailers of a call the server ends on an error: INTERNAL, the message and its E_* code. */
function errorTrailers(err: Error): Record<string, string> {
  const code = (err as RelayError).code ?? 'E_PROTOCOL'
  return { 'grpc-status': String(GrpcStatus.INTERNAL), 'grpc-message': encodeGrpcMessage(err.message), 'x-edgerelay-error': code }
}

/** A Trailers-Only response: the call is refused before any message. */
function refuse(stream: Http2Stream, status: number, code: string, message: string): void {
  stream.respond({ ':status': '200', 'content-type': 'application/grpc', 'grpc-status': String(status), 'grpc-message': encodeGrpcMessage(message), 'x-edgerelay-error': code }, { endStream: true })
}

export function grpcTransport(ctx: HalfContext, role: 'server' | 'client', spec: ConnectorSpec): StreamTransport {
  const rt = ctx.runtime
  const text = spec.text
  const codec = fixedCodec(ctx, text)
  const token = ctx.options.token
  const name = `grpc/${role}`
  if (!rt.serveHttp2 || !rt.connectHttp2) throw new RelayError('E_CONFIG', `${text}: HTTP/2 is not available on the ${rt.name} runtime`)
  const secure = spec.options.tls !== undefined
  for (const key of Object.keys(spec.options)) {
    if (key !== 'tls') throw new RelayError('E_CONFIG', `${text}: unknown option '${key}' for ${name} (it takes tls)`)
  }
  const wire = codec === 'uhppoted' ? grpcWire(codecByName('uhppoted'), false) : grpcWire(codecByName(codec))
  const contentType = grpcContentType(codec)
  const log = ctx.logger.child(name)
  const limited = ctx.warnings.through(log)
  const grace = ctx.options.udpTimeoutMs

  if (role === 'server') {
    // TLS when certificates are given (as ws/server and tls/server), or insisted on with `,tls`.
    const tls = httpTlsOf(ctx)
    if (secure && !tls) throw new RelayError('E_CONFIG', `${text}: grpc/server with tls needs --cert and --key`)
    const serveHttp2 = rt.serveHttp2.bind(rt)
    const accept = (stream: Http2Stream, remote: SocketAddress, local: SocketAddress, onConnection: (conn: StreamConn) => void, ticket?: GateTicket) => {
      const h = stream.headers
      const refused = (status: number, code: string, message: string) => {
        ctx.stats.add('tunnel.refused')
        limited.warn(`${name} refused call: ${code}`, peerKey(remote.address), `refused gRPC call from ${formatAddress(remote)}: ${message}`, { peer: formatAddress(remote), code })
        refuse(stream, status, code, message)
      }
      const asked = codecOfContentType(h['content-type'])
      if (h[':method'] !== 'POST' || asked === undefined) {
        ctx.stats.add('tunnel.refused')
        stream.respond({ ':status': h[':method'] !== 'POST' ? '405' : '415', 'content-type': 'text/plain', 'x-edgerelay-error': 'E_GRPC_HTTP' }, { endStream: true })
        return
      }
      if (h[':path'] !== RELAY_PATH) return refused(GrpcStatus.UNIMPLEMENTED, 'E_GRPC_METHOD', `unknown method ${h[':path']}: this is edgerelay, serving ${RELAY_PATH}`)
      if (asked !== codec) return refused(GrpcStatus.INVALID_ARGUMENT, 'E_CODEC_MISMATCH', `codec mismatch: this half speaks '${codec}' (content-type ${contentType}), the client sent ${h['content-type']}`)
      const encoding = h['grpc-encoding']
      if (encoding !== undefined && encoding !== 'identity') return refused(GrpcStatus.UNIMPLEMENTED, 'E_GRPC_COMPRESSED', `grpc-encoding ${encoding} is not supported: send uncompressed messages`)
      if (token !== undefined) {
        const offered = bearerToken(h.authorization)
        if (offered === undefined) return refused(GrpcStatus.UNAUTHENTICATED, 'E_AUTH', 'a token is required: send authorization: Bearer <token> metadata')
        if (!sameSecret(offered, token)) return refused(GrpcStatus.UNAUTHENTICATED, 'E_AUTH', 'wrong token')
      }
      // Authenticated; one more call within the half's limit?
      if (!ctx.limits.grpcCalls.take()) {
        const reason = `too many gRPC calls (${ctx.limits.grpcCalls.used}, the limit set by --max-grpc-calls)`
        ctx.limits.refused(remote, 'max-grpc-calls', reason, 'gRPC call')
        return refuse(stream, GrpcStatus.RESOURCE_EXHAUSTED, 'E_LIMIT', reason)
      }
      ticket?.authenticated()
      stream.respond({ ':status': '200', 'content-type': contentType })
      const call = new GrpcConn(stream, remote, local, 'server', grace)
      call.onFinished = () => ctx.limits.grpcCalls.give()
      onConnection(call)
    }
    return {
      name,
      wire,
      listen: (addr, port, onConnection) => serveHttp2({
        ...listenAt(addr, port),
        tls,
        gate: ctx.limits.gate,
        helloTimeoutMs: ctx.options.helloTimeoutMs,
        maxConcurrentStreams: MAX_STREAMS_PER_CONNECTION,
        onStream: (stream, remote, local, ticket) => accept(stream, remote, local, onConnection, ticket),
      }),
    }
  }

  const endpoint = spec.endpoint
  if (!endpoint) throw new RelayError('E_CONFIG', `${text}: needs host:port`)
  const authority = `${formatHost(endpoint)}:${endpoint.port}`
  const hop = firstHop(ctx, name, text, endpoint, { tls: secure, alpn: ['h2'], scheme: secure ? 'https' : 'http' })
  const connectHttp2 = rt.connectHttp2.bind(rt)
  const { helloTimeoutMs } = ctx.options
  return {
    name,
    wire,
    async dial(signal) {
      const conn = await hop(signal)
      const session = await connectHttp2({ conn, authority: `${secure ? 'https' : 'http'}://${authority}` })
      const stream = session.request({
        ':method': 'POST',
        ':scheme': secure ? 'https' : 'http',
        ':path': RELAY_PATH,
        ':authority': authority,
        'content-type': contentType,
        te: 'trailers',
        'user-agent': 'edgerelay-grpc/1',
        ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
      })
      const call = new GrpcConn(stream, conn.remote, conn.local, 'client', grace)
      call.onFinished = () => session.close()
      session.onClose((err) => {
        if (err) call.destroy(err)
      })
      const timer = setTimeout(() => {
        stream.cancel()
        session.close()
      }, helloTimeoutMs)
      try {
        await call.response
      } catch (err) {
        session.close()
        const e = err as RelayError
        throw e.code ? new RelayError(e.code, `${text}: ${e.message}`, { cause: err }) : err
      } finally {
        clearTimeout(timer)
      }
      return call
    },
  }
}

export const grpcConnector = tunnelConnector(grpcTransport)
