import type { StreamConn } from '../../adapter/types.ts'

/**
 * Caps what one connection may hold in send buffers. Every write() of a tunnel session is one
 * whole frame, so a write refused here is a dropped datagram (counted by `onDrop`), never a torn
 * frame: a peer that stops reading costs at most `maxBuffered` bytes (plus one frame), however
 * much traffic is sent its way (DESIGN.md §7, no unbounded queue). `onBuffered` sees the level
 * after each write (for a peak gauge).
 */
export function boundedConn(conn: StreamConn, maxBuffered: number, onDrop: (bytes: number, buffered: number) => void, onBuffered?: (buffered: number) => void): StreamConn {
  return {
    remote: conn.remote,
    local: conn.local,
    write(data) {
      const buffered = conn.bufferedAmount
      if (buffered > maxBuffered) {
        onDrop(data.length, buffered)
        return false
      }
      const ok = conn.write(data)
      onBuffered?.(conn.bufferedAmount)
      return ok
    },
    get bufferedAmount() {
      return conn.bufferedAmount
    },
    setHandlers: (h) => conn.setHandlers(h),
    end: () => conn.end(),
    destroy: (err) => conn.destroy(err),
  }
}
