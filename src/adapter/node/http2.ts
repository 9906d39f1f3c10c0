/**
 * HTTP/2 with node:http2, on all three runtimes: it is the only HTTP/2 stack that has response
 * trailers everywhere (Bun.serve has no h2, Deno.serve no trailers: docs/runtimes.md#only-nodehttp2-does-grpc-everywhere),
 * and gRPC needs trailers. Only bytes and headers here; gRPC itself is in src/connectors/grpc.ts.
 */
import { LINGER_MS, listenBounded } from './listen-bounded.ts'
import { ConnectionGuard, TLS_PROFILE } from './guard.ts'
import http2 from 'node:http2'
import type net from 'node:net'
import type { Http2ConnectOptions, Http2ServeOptions, Http2Session, Http2Stream, Http2StreamHandlers } from '../../ports/http.ts'
import type { StreamListener } from '../../ports/runtime.ts'
import { duplexOf } from './duplex.ts'
import { socketAddress as addressOf } from '../../base/address.ts'

/** Above this many bytes queued on a stream, write() reports backpressure. */
const HIGH_WATER = 1 << 20

function plainHeaders(h: http2.IncomingHttpHeaders | Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue
    out[k] = Array.isArray(v) ? v.join(', ') : String(v)
  }
  return out
}

/** Wraps either side's stream. */
function wrapStream(stream: http2.Http2Stream, headers: Record<string, string>): Http2Stream & { responseHeaders: Record<string, string> } {
  let handlers: Http2StreamHandlers | undefined
  const early: Uint8Array[] = []
  let ended = false
  let closed = false
  let closeError: Error | undefined
  let trailersToSend: Record<string, string> | undefined
  const wrapped = {
    headers,
    responseHeaders: {} as Record<string, string>,
    respond(h: Record<string, string>, opts?: { endStream?: boolean }) {
      const s = stream as http2.ServerHttp2Stream
      if (s.headersSent || s.destroyed) return
      s.respond(h, opts?.endStream ? { endStream: true } : { waitForTrailers: true })
    },
    write(data: Uint8Array) {
      if (closed || stream.destroyed || ended) return false
      stream.write(data)
      return stream.writableLength < HIGH_WATER
    },
    get bufferedAmount() {
      return stream.writableLength
    },
    end(trailers?: Record<string, string>) {
      if (ended || closed || stream.destroyed) return
      ended = true
      trailersToSend = trailers
      stream.end()
    },
    cancel() {
      if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL)
    },
    setHandlers(h: Http2StreamHandlers) {
      handlers = h
      for (const c of early.splice(0)) h.onData(c)
      if (closed) h.onClose(closeError)
    },
  }
  stream.on('wantTrailers', () => {
    const s = stream as http2.ServerHttp2Stream
    s.sendTrailers(trailersToSend ?? { 'grpc-status': '0' })
  })
  stream.on('data', (chunk: Uint8Array) => {
    if (handlers) handlers.onData(chunk)
    else early.push(chunk)
  })
  stream.on('end', () => handlers?.onEnd?.())
  stream.on('response', (h: http2.IncomingHttpHeaders) => {
    wrapped.responseHeaders = plainHeaders(h)
    handlers?.onResponse?.(wrapped.responseHeaders)
  })
  stream.on('trailers', (h: http2.IncomingHttpHeaders) => handlers?.onTrailers?.(plainHeaders(h)))
  stream.on('error', (err: Error) => {
    closeError ??= err
  })
  stream.on('close', () => {
    closed = true
    const code = stream.rstCode
    if (!closeError && code !== undefined && code !== http2.constants.NGHTTP2_NO_ERROR) {
      closeError = new Error(`HTTP/2 stream reset by the peer (code ${code})`)
    }
    handlers?.onClose(closeError)
  })
  return wrapped
}

/** A connection with no open stream for this long is closed (GOAWAY): clients reconnect when they need to. */
const IDLE_MS = 30_000
/** Streams one connection may open in its life before it is closed gently (see 'stream' below). */
const STREAMS_PER_CONNECTION = 100

function idleSession(session: http2.ServerHttp2Session): void {
  if (!session.closed && !session.destroyed) session.close()
}

export function serveHttp2(opts: Http2ServeOptions): Promise<StreamListener> {
  const sessions = new Set<http2.ServerHttp2Session>()
  // Admission and the hello deadline (the TLS handshake, the preface and the first stream).
  const guard = new ConnectionGuard({ gate: opts.gate, helloTimeoutMs: opts.helloTimeoutMs })
  const settings = { maxConcurrentStreams: opts.maxConcurrentStreams }
  const server = opts.tls
    ? http2.createSecureServer({ ...TLS_PROFILE, settings, cert: opts.tls.cert, key: opts.tls.key, ca: opts.tls.ca, requestCert: opts.tls.requestCert ?? false, rejectUnauthorized: opts.tls.requestCert ?? false, ALPNProtocols: ['h2'], allowHTTP1: false, handshakeTimeout: opts.helloTimeoutMs } as http2.SecureServerOptions)
    : http2.createServer({ settings })
  server.on('session', (session: http2.ServerHttp2Session) => {
    session.on('error', () => {})
    sessions.add(session)
    session.on('close', () => sessions.delete(session))
    // Idle: no open stream for IDLE_MS. Open streams are tunnels, with their own heartbeats.
    let open = 0
    let total = 0
    let idle: ReturnType<typeof setTimeout> | undefined
    session.on('stream', (stream: http2.ServerHttp2Stream) => {
      open++
      // Deno's node:http2 aborts the process (an nghttp2 assertion, or free(): invalid pointer)
      // when a client drops a connection that carried a few hundred streams: after
      // STREAMS_PER_CONNECTION the connection is closed gently (GOAWAY; open calls go on, clients
      // reconnect for new ones), on every runtime alike (docs/runtimes.md#http2-on-deno).
      if (++total === STREAMS_PER_CONNECTION) session.close()
      if (idle !== undefined) clearTimeout(idle)
      idle = undefined
      stream.once('close', () => {
        if (--open === 0 && !session.closed) idle = setTimeout(idleSession, IDLE_MS, session)
      })
    })
    session.once('close', () => {
      if (idle !== undefined) clearTimeout(idle)
    })
  })
  server.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    stream.on('error', () => {})
    const socket = stream.session?.socket as net.Socket | undefined
    opts.onStream(wrapStream(stream, plainHeaders(headers)), addressOf(socket?.remoteAddress, socket?.remotePort), addressOf(socket?.localAddress, socket?.localPort), guard.started(socket))
  })
  server.on('connection', (s: net.Socket) => {
    s.on('error', () => {})
    // A refused connection is closed at once, unanswered: under TLS nothing can be said before
    // the handshake, and on h2c a GOAWAY with the reason would keep the descriptor until it is
    // written (Bun and Deno accept a whole burst before they write anything). The log says why.
    if (!guard.accept(s)) return
    s.setNoDelay(true)
  })
  server.on('secureConnection', (s: net.Socket) => s.on('error', () => {}))
  server.on('unknownProtocol', (s: net.Socket) => s.destroy())
  // A client whose TLS handshake failed is cut at once (see ./http.ts).
  server.on('tlsClientError', (_err: Error, s: net.Socket) => s.destroy())
  return new Promise((resolve, reject) => {
    listenBounded(server, opts, {
      closeGently: () => {
        for (const s of sessions) s.close()
      },
      cutAll: () => {
        for (const s of sessions) s.destroy()
      },
    }).then(resolve, reject)
  })
}

export function connectHttp2(opts: Http2ConnectOptions): Promise<Http2Session> {
  const socket = duplexOf(opts.conn)
  return new Promise((resolve, reject) => {
    const session = http2.connect(opts.authority, { createConnection: () => socket as never })
    const closers: ((err?: Error) => void)[] = []
    let closeError: Error | undefined
    let settled = false
    session.on('error', (err: Error) => {
      closeError ??= err
      if (!settled) {
        settled = true
        reject(err)
      }
    })
    session.on('close', () => {
      for (const fn of closers.splice(0)) fn(closeError)
    })
    const wrapped: Http2Session = {
      request(headers) {
        const stream = session.request(headers)
        stream.on('error', () => {})
        return wrapStream(stream, headers)
      },
      close() {
        if (!session.destroyed) session.close()
        setTimeout(() => session.destroy(), LINGER_MS).unref()
      },
      onClose(fn) {
        if (session.destroyed || session.closed) fn(closeError)
        else closers.push(fn)
      },
    }
    // Usable at once: requests made now are sent after the preface and SETTINGS.
    settled = true
    resolve(wrapped)
  })
}
