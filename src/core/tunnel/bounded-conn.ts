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

// A class, not an object literal: a literal with a getter is a dictionary-mode object in V8, and
// one of these lives as long as each tunnel connection.
class BoundedConn implements StreamConn {
  readonly remote: StreamConn['remote']
  readonly local: StreamConn['local']
  private readonly conn: StreamConn
  private readonly limits: Limits

  constructor(conn: StreamConn, limits: Limits) {
    this.remote = conn.remote
    this.local = conn.local
    this.conn = conn
    this.limits = limits
  }

  write(data: Uint8Array): boolean {
    const conn = this.conn
    const { ctx, name, maxBuffered } = this.limits
    const buffered = conn.bufferedAmount
    if (buffered > maxBuffered) {
      ctx.drops.drop('backpressure', `${name} peer ${conn.remote.address}:${conn.remote.port} is not reading (${buffered} bytes buffered): frame of ${data.length} bytes not sent`)
      return false
    }
    const ok = conn.write(data)
    ctx.stats.max('tunnel.buffered_peak', conn.bufferedAmount)
    return ok
  }

  get bufferedAmount(): number {
    return this.conn.bufferedAmount
  }

  setHandlers(h: StreamHandlers): void {
    this.conn.setHandlers(h)
  }

  end(): void {
    this.conn.end()
  }

  destroy(err?: Error): void {
    this.conn.destroy(err)
  }
}
