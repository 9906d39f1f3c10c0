/**
 * The HTTP side of the adapter contract, in web-standard terms: an HTTP server that hands every
 * request to a handler as a `Request` and sends the `Response` it returns, with the runtime's
 * WebSocket upgrade (ws/server, http/https in-connectors); a WebSocket client over a connection
 * the core dialled (ws/client); HTTP/2 streams for gRPC (grpc/server, grpc/client). The protocols
 * themselves (negotiation, gRPC status and framing, the JSON API) live in the connectors;
 * adapters only move bytes and messages.
 */
import type { ConnectionGate, Family, GateTicket, ListenTarget, SocketAddress, StreamConn, StreamListener } from './sockets.ts'

/** TLS material for an HTTP or HTTP/2 server (PEM text). */
export interface HttpTlsOptions {
  cert: string
  key: string
  /** CA of client certificates; with requestCert, clients must present one it signed. */
  ca?: string
  requestCert?: boolean
}

/** What the app hands the runtime when it accepts a WebSocket upgrade. */
export interface WebSocketAccept {
  /** The subprotocol to answer with (Sec-WebSocket-Protocol). */
  protocol: string
  /**
   * The open WebSocket as a StreamConn: onData gets one whole binary message per call, and the
   * writes made in one event-loop turn leave as one binary message. bufferedAmount counts bytes
   * not yet handed to the kernel. end() closes with 1000, destroy() with 1011.
   */
  onOpen(conn: StreamConn): void
}

/** What the server knows of a request besides the request itself. */
export interface HttpRequestInfo {
  /** The peer (IPv4-mapped addresses already shown as IPv4). */
  remote: SocketAddress
  /** The listening address that took the request. */
  local: SocketAddress
  /**
   * Present when the request asks for a WebSocket upgrade: accepts it and returns the response
   * the handler must return. A handler that returns anything else refuses the upgrade, and the
   * client gets that whole response (status, headers, body).
   */
  upgrade?(accept: WebSocketAccept): Response
  /** The connection's ticket from the server's gate: mark it authenticated once the request is accepted. */
  ticket?: GateTicket
}

/** Answers one request. */
export type HttpHandler = (request: Request, info: HttpRequestInfo) => Response | Promise<Response>

export interface HttpServeOptions extends ListenTarget {
  /** https / wss when present. */
  tls?: HttpTlsOptions
  handler: HttpHandler
  /** Admits each accepted connection (the half's global limits); a refused one gets a 503 (plain HTTP) or is closed. */
  gate?: ConnectionGate
  /**
   * A connection must have sent a request's headers (TLS handshake included) within this time, or
   * it is closed. Later requests have the same limit for their headers; idle kept-alive
   * connections are closed after a few seconds.
   */
  helloTimeoutMs: number
  /** The largest WebSocket message accepted (default 64 KiB); a bigger one closes the WebSocket (1009) as it arrives. */
  maxMessageBytes?: number
}

export interface WebSocketConnectOptions {
  /** A connection the core dialled (address layer, TLS already done for wss). */
  conn: StreamConn
  /** The ws:// or wss:// URL: its host, port and path make the request line and Host header. */
  url: string
  protocols: string[]
  headers?: Record<string, string>
  /** Time allowed for the upgrade response. */
  handshakeTimeoutMs: number
}

/** A refused or failed WebSocket upgrade; status and reason come from the server's response. */
export interface UpgradeFailure extends Error {
  status?: number
  /** The server's E_* code (X-Edgerelay-Error), when it sent one. */
  serverCode?: string
  reason?: string
}

/** One HTTP/2 stream, either side. Header names are lowercase. */
export interface Http2Stream {
  /** Request headers (server side) or response headers (client side, after onResponse). */
  readonly headers: Record<string, string>
  /**
   * Server: sends the response headers. With `endStream` they are all there is (a gRPC
   * Trailers-Only response); otherwise end() sends trailers.
   */
  respond(headers: Record<string, string>, opts?: { endStream?: boolean }): void
  write(data: Uint8Array): boolean
  readonly bufferedAmount: number
  /** Ends our side: with `trailers` (server) they close the stream. */
  end(trailers?: Record<string, string>): void
  /** Resets the stream (RST_STREAM CANCEL). */
  cancel(): void
  setHandlers(h: Http2StreamHandlers): void
}

export interface Http2StreamHandlers {
  onData(chunk: Uint8Array): void
  /** Client: response headers arrived. */
  onResponse?(headers: Record<string, string>): void
  /** Trailers (client side). */
  onTrailers?(trailers: Record<string, string>): void
  /** The peer ended its side. */
  onEnd?(): void
  /** The stream is gone (after end, reset or a session error). */
  onClose(err?: Error): void
}

export interface Http2ServeOptions extends ListenTarget {
  tls?: HttpTlsOptions
  /** Every new stream; `remote` is the peer of its connection, `ticket` that connection's (mark it authenticated for an accepted call). */
  onStream(stream: Http2Stream, remote: SocketAddress, local: SocketAddress, ticket?: GateTicket): void
  /** Admits each accepted connection (the half's global limits); a refused one is closed at once. */
  gate?: ConnectionGate
  /** A connection must have opened its first stream (TLS handshake included) within this time. */
  helloTimeoutMs: number
  /** Streams one connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams: number
}

export interface Http2ConnectOptions {
  /** A connection the core dialled; for TLS it must have negotiated ALPN h2. */
  conn: StreamConn
  /** `http://host:port` or `https://host:port` (the :authority and :scheme). */
  authority: string
}

export interface Http2Session {
  /** Opens a stream with these request headers (pseudo-headers included). */
  request(headers: Record<string, string>): Http2Stream
  close(): void
  /** Called once when the session ends. */
  onClose(fn: (err?: Error) => void): void
}

/** What readStatic found at a path under a static root. */
export type StaticEntry = { kind: 'file'; data: Uint8Array } | { kind: 'directory' }

/** The optional HTTP members of Runtime. */
export interface HttpRuntime {
  /**
   * Reads `relPath` (already checked by the core: no `.` segments, no `..`) under the folder
   * `root`; undefined when nothing is there.
   */
  readStatic?(root: string, relPath: string): Promise<StaticEntry | undefined>
  serveHttp?(opts: HttpServeOptions): Promise<StreamListener>
  connectWebSocket?(opts: WebSocketConnectOptions): Promise<StreamConn>
  serveHttp2?(opts: Http2ServeOptions): Promise<StreamListener>
  connectHttp2?(opts: Http2ConnectOptions): Promise<Http2Session>
}
