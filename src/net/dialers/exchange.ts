/**
 * The conversation with a proxy before the tunnel starts: write requests, wait for a number of
 * bytes or for the end of a header block, all bounded in size and cut short when `signal`
 * aborts. Plugins use it so they deal in messages, not in chunks.
 */
import { ByteQueue } from '../../base/byte-queue.ts'
import type { StreamConn } from '../../ports/runtime.ts'
import { ProxyError } from './dialer.ts'
import { HeldConn } from './held-conn.ts'

interface Waiter {
  /** How many bytes of the buffer make the message, or -1 to wait for more. */
  complete(buf: Uint8Array): number
  resolve(bytes: Uint8Array): void
  reject(err: Error): void
}

export class ProxyExchange {
  private readonly conn: StreamConn
  private readonly queue = new ByteQueue()
  private waiter: Waiter | undefined
  private failure: Error | undefined
  private readonly signal: AbortSignal
  private readonly onAbort: () => void
  /** How the proxy is named in messages: `the HTTP proxy http://10.0.0.1:3128`. */
  private readonly who: string

  constructor(conn: StreamConn, signal: AbortSignal, who: string) {
    this.conn = conn
    this.signal = signal
    this.who = who
    this.onAbort = () => this.fail(signal.reason instanceof Error ? signal.reason : new ProxyError('E_PROXY_TIMEOUT', `${who} did not answer in time`))
    signal.addEventListener('abort', this.onAbort, { once: true })
    conn.setHandlers({
      onData: (chunk) => {
        this.queue.append(chunk)
        this.check()
      },
      onClose: (err) => this.fail(new ProxyError('E_PROXY_CLOSED', `${who} closed the connection${err ? ` (${err.message})` : ''} before it answered`, { cause: err })),
    })
    if (signal.aborted) this.onAbort()
  }

  write(bytes: Uint8Array): void {
    this.conn.write(bytes)
  }

  /** Exactly `n` bytes, once they are there. */
  read(n: number): Promise<Uint8Array> {
    return this.wait((buf) => (buf.length >= n ? n : -1))
  }

  /**
   * Bytes up to and including the first `\r\n\r\n` (an HTTP header block); more than `max` bytes
   * without one is E_PROXY_PROTOCOL.
   */
  readHeaderBlock(max: number): Promise<Uint8Array> {
    return this.wait((buf) => {
      for (let i = 3; i < buf.length; i++) {
        if (buf[i] === 10 && buf[i - 1] === 13 && buf[i - 2] === 10 && buf[i - 3] === 13) return i + 1
      }
      if (buf.length > max) throw new ProxyError('E_PROXY_PROTOCOL', `${this.who} sent more than ${max} bytes without ending its answer's headers`)
      return -1
    })
  }

  private wait(complete: (buf: Uint8Array) => number): Promise<Uint8Array> {
    if (this.failure) return Promise.reject(this.failure)
    return new Promise((resolve, reject) => {
      this.waiter = { complete, resolve, reject }
      this.check()
    })
  }

  private check(): void {
    const w = this.waiter
    if (!w) return
    let n: number
    try {
      n = w.complete(this.queue.view())
    } catch (err) {
      return this.fail(err as Error)
    }
    if (n < 0) return
    const bytes = this.queue.view().slice(0, n)
    this.queue.discard(n)
    this.waiter = undefined
    w.resolve(bytes)
  }

  private fail(err: Error): void {
    if (this.failure) return
    this.failure = err
    this.signal.removeEventListener('abort', this.onAbort)
    this.conn.destroy()
    const w = this.waiter
    this.waiter = undefined
    w?.reject(err)
  }

  /** The handshake is over: the connection, with whatever came after the proxy's answer held for the next reader. */
  handOver(): StreamConn {
    this.signal.removeEventListener('abort', this.onAbort)
    const rest = this.queue.length > 0 ? [this.queue.view().slice()] : []
    this.queue.discard(this.queue.length)
    return new HeldConn(this.conn, rest)
  }

  /** Ends the exchange with an error (the connection is destroyed). */
  abandon(err: Error): never {
    this.fail(err)
    throw err
  }
}
