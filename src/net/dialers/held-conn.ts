/**
 * A connection whose first bytes someone else already read: what a proxy sent after its answer
 * (a server that speaks first) is held and handed to the next owner before anything newer. Until
 * that owner sets its handlers, arriving bytes are held too, up to a bound.
 */
import type { SocketAddress, StreamConn, StreamHandlers } from '../../ports/runtime.ts'

/** More than this held before the next owner reads is not a server greeting: the connection is cut. */
const HOLD_LIMIT = 1 << 20

export class HeldConn implements StreamConn {
  readonly remote: SocketAddress
  readonly local: SocketAddress
  private readonly raw: StreamConn
  private held: Uint8Array[]
  private heldBytes: number
  private ended = false
  private closed: { err?: Error } | undefined
  private handlers: StreamHandlers | undefined

  constructor(raw: StreamConn, early: Uint8Array[]) {
    this.raw = raw
    this.remote = raw.remote
    this.local = raw.local
    this.held = early
    this.heldBytes = early.reduce((n, c) => n + c.length, 0)
    raw.setHandlers({
      onData: (chunk) => {
        this.heldBytes += chunk.length
        if (this.heldBytes > HOLD_LIMIT) return raw.destroy(new Error(`more than ${HOLD_LIMIT} bytes arrived before the connection was read`))
        this.held.push(chunk.slice())
      },
      onEnd: () => {
        this.ended = true
      },
      onClose: (err) => {
        this.closed = { err }
      },
    })
  }

  /**
   * The connection underneath, for a runtime that must take the socket itself (STARTTLS), when
   * nothing is held; else undefined (a TLS server never speaks first, so bytes here are wrong).
   * From then on only the runtime reads it.
   */
  unwrap(): StreamConn | undefined {
    return this.held.length === 0 && !this.ended && !this.closed ? this.raw : undefined
  }

  setHandlers(h: StreamHandlers): void {
    this.handlers = h
    const held = this.held
    this.held = []
    for (const chunk of held) h.onData(chunk)
    if (this.ended) h.onEnd?.()
    if (this.closed) return h.onClose(this.closed.err)
    this.raw.setHandlers(h)
  }

  write(data: Uint8Array): boolean {
    return this.raw.write(data)
  }

  get bufferedAmount(): number {
    return this.raw.bufferedAmount
  }

  end(): void {
    this.raw.end()
  }

  destroy(err?: Error): void {
    this.raw.destroy(err)
  }

  reset(): void {
    if (this.raw.reset) this.raw.reset()
    else this.raw.destroy()
  }

  pause(): void {
    this.raw.pause?.()
  }

  resume(): void {
    this.raw.resume?.()
  }
}

/** The runtime's own connection under `conn` (see HeldConn.unwrap), or undefined when bytes are held. */
export function socketOf(conn: StreamConn): StreamConn | undefined {
  return conn instanceof HeldConn ? conn.unwrap() : conn
}
