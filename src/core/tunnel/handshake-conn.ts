import type { SocketAddress, StreamConn, StreamHandlers } from '../../ports/runtime.ts'
import { unrefTimer } from '../../base/clock.ts'
import { formatAddress } from '../../base/address.ts'

/**
 * A message connection that runs its own handshake on a byte stream first (ZMTP, an XMPP login),
 * then carries one frame per message. Subclasses parse `received()` bytes, call `handshakeDone()` when the
 * handshake is done, `deliver()` for each message and `fail()` on errors. `opened` settles once:
 * with the connection, or with the handshake's error (the byte stream destroyed).
 */
export abstract class HandshakeConn implements StreamConn {
  readonly remote: SocketAddress
  readonly local: SocketAddress
  readonly opened: Promise<StreamConn>
  protected readonly raw: StreamConn
  private state: 'handshake' | 'open' | 'closed' = 'handshake'
  private handlers: StreamHandlers | undefined
  /** Messages that came with the handshake, before the session set its handlers (copies). */
  private early: Uint8Array[] = []
  private closeError: Error | undefined
  private resolve!: (c: StreamConn) => void
  private reject!: (e: Error) => void
  private readonly timer: ReturnType<typeof setTimeout>

  constructor(raw: StreamConn, timeoutMs: number, timeoutError: () => Error) {
    this.raw = raw
    this.remote = raw.remote
    this.local = raw.local
    this.opened = new Promise((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
    // The caller awaits `opened`; a handshake that fails before it could (a connection already
    // closed when it is wrapped, reported synchronously on Deno) must not be an unhandled rejection.
    this.opened.catch(() => {})
    this.timer = setTimeout(() => this.fail(timeoutError()), timeoutMs)
    raw.setHandlers({
      onData: (chunk) => {
        if (this.state !== 'closed') this.received(chunk)
      },
      onClose: (err) => this.finish(this.state === 'handshake' ? this.closedDuringHandshake(err) : err),
      onDrain: () => this.handlers?.onDrain?.(),
    })
  }

  /** Bytes from the stream, while not closed. */
  protected abstract received(chunk: Uint8Array): void
  /** The error for a stream that closed before the handshake was done. */
  protected abstract closedDuringHandshake(err?: Error): Error
  abstract write(data: Uint8Array): boolean

  protected get isOpen(): boolean {
    return this.state === 'open'
  }

  protected get isClosed(): boolean {
    return this.state === 'closed'
  }

  /** `ip:port` of the peer, for messages. */
  protected get label(): string {
    return formatAddress(this.remote)
  }

  protected handshakeDone(): void {
    clearTimeout(this.timer)
    this.state = 'open'
    this.resolve(this)
  }

  protected deliver(message: Uint8Array): void {
    if (this.handlers) this.handlers.onData(message)
    else this.early.push(message.slice())
  }

  /** Ends the stream (flushing what was written, e.g. a refusal) and reports `err`. */
  protected fail(err: Error): void {
    if (this.state === 'closed') return
    // Finished first: a runtime may report the close from inside end() (Deno), and the reason
    // must be this one, not a bare "closed during the handshake".
    this.finish(err)
    this.raw.end()
    unrefTimer(setTimeout(() => this.raw.destroy(), 500))
  }

  private finish(err?: Error): void {
    if (this.state === 'closed') return
    const wasOpen = this.state === 'open'
    this.state = 'closed'
    this.closeError = err
    clearTimeout(this.timer)
    if (!wasOpen) this.reject(err ?? this.closedDuringHandshake())
    else this.handlers?.onClose(err)
  }

  get bufferedAmount(): number {
    return this.raw.bufferedAmount
  }

  setHandlers(h: StreamHandlers): void {
    this.handlers = h
    if (this.early.length === 0 && this.state !== 'closed') return
    // Later, as a socket would: a session sets its handlers before it can read.
    queueMicrotask(() => {
      const early = this.early
      this.early = []
      for (const m of early) h.onData(m)
      if (this.state === 'closed') h.onClose(this.closeError)
    })
  }

  end(): void {
    this.raw.end()
  }

  destroy(err?: Error): void {
    this.raw.destroy(err)
  }
}
