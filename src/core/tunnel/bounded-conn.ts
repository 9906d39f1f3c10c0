import type { StreamConn, StreamHandlers } from '../../adapter/types.ts'

/**
 * Caps what one connection may hold in send buffers. Every write() of a tunnel session is one
 * whole frame, so a write refused here is a dropped datagram (counted by `onDrop`), never a torn
 * frame: a peer that stops reading costs at most `maxBuffered` bytes (plus one frame), however
 * much traffic is sent its way (DESIGN.md §7, no unbounded queue). `onBuffered` sees the level
 * after each write (for a peak gauge). Both get the connection, so one pair of callbacks serves
 * every connection of a listener.
 */
export function boundedConn(conn: StreamConn, maxBuffered: number, onDrop: (bytes: number, buffered: number, conn: StreamConn) => void, onBuffered?: (buffered: number) => void): StreamConn {
  return new BoundedConn(conn, maxBuffered, onDrop, onBuffered)
}

// A class, not an object literal: a literal with a getter is a dictionary-mode object in V8, and
// one of these lives as long as each tunnel connection.
class BoundedConn implements StreamConn {
  readonly remote: StreamConn['remote']
  readonly local: StreamConn['local']
  private readonly conn: StreamConn
  private readonly maxBuffered: number
  private readonly onDrop: (bytes: number, buffered: number, conn: StreamConn) => void
  private readonly onBuffered: ((buffered: number) => void) | undefined

  constructor(conn: StreamConn, maxBuffered: number, onDrop: (bytes: number, buffered: number, conn: StreamConn) => void, onBuffered: ((buffered: number) => void) | undefined) {
    this.remote = conn.remote
    this.local = conn.local
    this.conn = conn
    this.maxBuffered = maxBuffered
    this.onDrop = onDrop
    this.onBuffered = onBuffered
  }

  write(data: Uint8Array): boolean {
    const conn = this.conn
    const buffered = conn.bufferedAmount
    if (buffered > this.maxBuffered) {
      this.onDrop(data.length, buffered, conn)
      return false
    }
    const ok = conn.write(data)
    this.onBuffered?.(conn.bufferedAmount)
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
