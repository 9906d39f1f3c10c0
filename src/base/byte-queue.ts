/**
 * A growable byte buffer for stream reassembly: append at the end, discard from the front,
 * without Buffer.concat on every read.
 */
/** Nothing is allocated until a partial frame has to wait: idle connections hold no buffer. */
const EMPTY = new Uint8Array(0)
const FIRST_SIZE = 4096

export class ByteQueue {
  private buf = EMPTY
  private start = 0
  private end = 0

  get length(): number {
    return this.end - this.start
  }

  append(chunk: Uint8Array): void {
    const need = this.end + chunk.length
    if (need > this.buf.length) {
      const live = this.end - this.start
      if (live + chunk.length <= this.buf.length && this.start > 0) {
        this.buf.copyWithin(0, this.start, this.end)
      } else {
        let size = Math.max(this.buf.length, FIRST_SIZE)
        while (size < live + chunk.length) size *= 2
        const next = new Uint8Array(size)
        next.set(this.buf.subarray(this.start, this.end))
        this.buf = next
      }
      this.start = 0
      this.end = live
    }
    this.buf.set(chunk, this.end)
    this.end += chunk.length
  }

  /** The queued bytes (a view, valid until the next append or discard). */
  view(): Uint8Array {
    return this.buf.subarray(this.start, this.end)
  }

  discard(n: number): void {
    this.start += n
    if (this.start >= this.end) {
      this.start = 0
      this.end = 0
      // Give back a buffer that grew for one large frame.
      if (this.buf.length > 1 << 17) this.buf = EMPTY
    }
  }
}
