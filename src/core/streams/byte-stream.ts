/**
 * What every stream connector moves bytes through: one TCP-like connection with backpressure,
 * half-close and reset. A local socket (connStream), a stream inside a tunnel connection
 * (TunnelStream) and, later, a SOCKS client or a browser's WHATWG pair all look like this, so
 * pipe() joins any two of them (CONTRIBUTING.md#adding-a-stream-connector).
 */
import type { StreamError } from './codes.ts'

export interface ByteStreamHandlers {
  /**
   * Bytes from the other end. The receiver may keep `chunk`: producers hand over bytes they will
   * not touch again.
   */
  onData(chunk: Uint8Array): void
  /** The other end will send nothing more (TCP FIN); writing is still allowed. */
  onEnd(): void
  /** Called once: both directions are done (no `err`), or the stream was reset or failed. */
  onClose(err?: StreamError): void
  /** write() returned false earlier and there is room again. */
  onDrain(): void
}

export interface ByteStream {
  /** For logs: who is at the other end (`127.0.0.1:51234`, `stream 7 on 10.0.0.2:8443`). */
  readonly label: string
  /**
   * Sends bytes (the stream may keep `chunk`: do not change it afterwards). Returns false when the
   * caller should wait for onDrain before writing more; bytes given are never dropped.
   */
  write(chunk: Uint8Array): boolean
  /** This side will send nothing more, once queued bytes are out (TCP FIN). */
  end(): void
  /** Ends both directions now, dropping queued bytes; the other end learns `err.streamCode`. */
  reset(err: StreamError): void
  /** Stops delivering onData until resume() (the reader is slow); the other end is held back. */
  pause(): void
  resume(): void
  /** Sets the handlers; anything that happened before is delivered now. */
  setHandlers(h: ByteStreamHandlers): void
}

/** What a stream connector opens streams through: the --out side of a half (a tunnel, tcp/connect, tcp/dial). */
export interface StreamOpener {
  /**
   * Opens a stream to `req.dst`. Resolves once the far end is connected; rejects with a
   * StreamError whose `streamCode` says why (refused, unreachable, not_allowed, timeout, ...).
   */
  openStream(req: OpenRequest): Promise<OpenedStream>
}

export interface OpenRequest {
  /**
   * `host:port` or `[v6]:port` the opener asks for; undefined: the far half's own destination
   * (tcp/connect). A host is sent as given and resolved where the connection is made.
   */
  dst?: string
  /** Who asked, for logs on both halves (`127.0.0.1:51234`). */
  src?: string
  /** Aborted when the asker gave up (its client went away): the dial stops. */
  signal?: AbortSignal
}

export interface OpenedStream {
  stream: ByteStream
  /** The address the far end connected from (`10.0.0.2:40122`), when known: SOCKS reports it. */
  bound?: string
}
