import { formatAddress } from '../../base/address.ts'
import { errnoOf } from '../../base/errors.ts'
import type { StreamConn, StreamHandlers } from '../../ports/runtime.ts'
import type { ByteStream, ByteStreamHandlers } from './byte-stream.ts'
import { isStreamError, StreamError } from './codes.ts'

/**
 * A local TCP connection's user-space send buffer above which write() says "wait": small, so a
 * reader that stops holds little here; its kernel buffers and the stream's window hold the rest.
 */
export const CONN_HIGH_WATER = 128 * 1024

/**
 * A local connection (made with `allowHalfOpen`, from a runtime whose StreamConn can pause) as a
 * ByteStream: FIN both ways, reading paused while the other side is full, a reset sent as a TCP RST.
 */
export function connStream(conn: StreamConn, label = formatAddress(conn.remote), onGone?: () => void): ByteStream {
  return new ConnStream(conn, label, onGone)
}

/** The stream and the conn's handlers in one object: one per forwarded connection, no closures. */
class ConnStream implements ByteStream, StreamHandlers {
  readonly label: string
  private readonly conn: StreamConn
  private closed = false
  private onGone: (() => void) | undefined
  private h: ByteStreamHandlers | undefined = undefined

  constructor(conn: StreamConn, label: string, onGone: (() => void) | undefined) {
    this.conn = conn
    this.label = label
    this.onGone = onGone
  }

  private gone(): void {
    this.closed = true
    const fn = this.onGone
    this.onGone = undefined
    fn?.()
  }

  write(chunk: Uint8Array): boolean {
    if (this.closed) return false
    this.conn.write(chunk)
    return this.conn.bufferedAmount < CONN_HIGH_WATER
  }

  end(): void {
    if (!this.closed) this.conn.end()
  }

  reset(_err: StreamError): void {
    if (this.closed) return
    this.gone()
    if (this.conn.reset) this.conn.reset()
    else this.conn.destroy()
  }

  pause(): void {
    this.conn.pause?.()
  }

  resume(): void {
    this.conn.resume?.()
  }

  setHandlers(h: ByteStreamHandlers): void {
    this.h = h
    this.conn.setHandlers(this)
  }

  // --- the conn's handlers ---

  onData(chunk: Uint8Array): void {
    this.h!.onData(chunk)
  }

  onEnd(): void {
    this.h!.onEnd()
  }

  onDrain(): void {
    this.h!.onDrain()
  }

  onClose(err?: Error): void {
    this.gone()
    this.h!.onClose(err === undefined ? undefined : asStreamError(err, this.label))
  }
}

/** A socket error as the stream code the other end learns (a reset, mostly). */
function asStreamError(err: Error, label: string): StreamError {
  if (isStreamError(err)) return err
  const errno = errnoOf(err)
  return new StreamError(errno === 'ETIMEDOUT' ? 'timeout' : 'reset', `${label}: ${errno ?? err.message}`, { cause: err })
}
