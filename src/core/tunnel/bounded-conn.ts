import type { StreamConn, StreamHandlers } from '../../ports/runtime.ts'
import type { HalfContext } from '../connector.ts'

/** Send-buffer cap per tunnel connection: beyond it frames are dropped and counted (a peer that stops reading). */
export const MAX_BUFFERED = 4 << 20

/**
 * Caps what one connection may hold in send buffers. Every write() of a tunnel session is one
 * whole frame, so a write refused here is a dropped datagram (counted as `backpressure`), never a
 * torn frame: a peer that stops reading costs at most `maxBuffered` bytes (plus one frame), however
 * much traffic is sent its way (docs/architecture.md#what-every-part-keeps-to). The level after each write feeds
 * the `tunnel.buffered_peak` gauge. One returned function serves every connection of a listener
 * or dialer (`name` says which, in the drop message).
 */
export function tunnelBound(ctx: HalfContext, name: string, maxBuffered = MAX_BUFFERED): (conn: StreamConn) => StreamConn {
  const limits: Limits = { ctx, name, maxBuffered }
  return (conn) => new BoundedConn(conn, limits)
}

interface Limits {
  ctx: HalfContext
  name: string
  maxBuffered: number
}

/**
 * The connection under a bound one, for code that needs the runtime's own (STARTTLS takes over its
 * socket); its bytes leave the half's count.
 */
export function unbound(conn: StreamConn): StreamConn {
  return conn instanceof BoundedConn ? conn.detach() : conn
}

// A class, not an object literal: a literal with a getter is a dictionary-mode object in V8, and
// one of these lives as long as each tunnel connection.
class BoundedConn implements StreamConn, StreamHandlers {
  readonly remote: StreamConn['remote']
  readonly local: StreamConn['local']
  private readonly conn: StreamConn
  private readonly limits: Limits
  /** This connection's share of the half's buffered bytes (--max-buffered), as last seen. */
  private counted = 0
  /** The most this connection has had buffered. */
  private peak = 0
  private handlers: StreamHandlers | undefined = undefined

  constructor(conn: StreamConn, limits: Limits) {
    this.remote = conn.remote
    this.local = conn.local
    this.conn = conn
    this.limits = limits
  }

  /** @internal unbound(): the inner connection, no longer counted. */
  detach(): StreamConn {
    this.limits.ctx.limits.buffered.total -= this.counted
    this.counted = 0
    return this.conn
  }

  /** Brings this connection's share of the half's total up to date. */
  private recount(): void {
    const now = this.conn.bufferedAmount
    this.limits.ctx.limits.buffered.total += now - this.counted
    this.counted = now
  }

  write(data: Uint8Array): boolean {
    const conn = this.conn
    const { ctx, name, maxBuffered } = this.limits
    const buffered = conn.bufferedAmount
    if (buffered > maxBuffered) {
      ctx.drops.drop('backpressure', `${name} peer ${conn.remote.address}:${conn.remote.port} is not reading (${buffered} bytes buffered): frame of ${data.length} bytes not sent`)
      return false
    }
    // The half's total: past it, a connection that already has bytes waiting gets no more.
    const all = ctx.limits.buffered
    if (buffered > 0 && all.total > all.max) {
      ctx.drops.drop('backpressure', `${name} peer ${conn.remote.address}:${conn.remote.port}: the half's send buffers hold ${all.total} bytes (--max-buffered ${all.max}): frame of ${data.length} bytes not sent`)
      return false
    }
    const ok = conn.write(data)
    this.recount()
    // The half's peak is the largest any connection reached: only a new peak of this one can raise it.
    if (this.counted > this.peak) ctx.stats.max('tunnel.buffered_peak', (this.peak = this.counted))
    return ok
  }

  get bufferedAmount(): number {
    return this.conn.bufferedAmount
  }

  setHandlers(h: StreamHandlers): void {
    this.handlers = h
    this.conn.setHandlers(this)
  }

  // --- StreamHandlers: passed on, keeping the half's count of buffered bytes right ---

  onData(chunk: Uint8Array): void {
    this.handlers!.onData(chunk)
  }

  onDrain(): void {
    this.recount()
    this.handlers!.onDrain?.()
  }

  onClose(err?: Error): void {
    this.limits.ctx.limits.buffered.total -= this.counted
    this.counted = 0
    this.handlers!.onClose(err)
  }

  end(reason?: Error): void {
    this.conn.end(reason)
  }

  destroy(err?: Error): void {
    this.conn.destroy(err)
  }
}
