import type { ByteStream, ByteStreamHandlers } from './byte-stream.ts'
import type { StreamError } from './codes.ts'

/**
 * Joins two streams: bytes both ways with backpressure (a full side pauses the other), each FIN
 * passed on as a FIN, a reset or failure of either side passed on as a reset of the other.
 * `done` runs once, when both sides are closed (with the first error, if any).
 */
export function pipe(a: ByteStream, b: ByteStream, done?: (err?: StreamError) => void): void {
  const state = { open: 2, err: undefined as StreamError | undefined, done }
  a.setHandlers(new PipeEnd(a, b, state))
  b.setHandlers(new PipeEnd(b, a, state))
}

interface PipeState {
  open: number
  err: StreamError | undefined
  done: ((err?: StreamError) => void) | undefined
}

/** The handlers of one side: what it delivers goes to `other`. A class, not closures: one pair per stream. */
class PipeEnd implements ByteStreamHandlers {
  private readonly self: ByteStream
  private readonly other: ByteStream
  private readonly state: PipeState
  private closed = false

  constructor(self: ByteStream, other: ByteStream, state: PipeState) {
    this.self = self
    this.other = other
    this.state = state
  }

  onData(chunk: Uint8Array): void {
    if (!this.other.write(chunk)) this.self.pause()
  }

  onEnd(): void {
    this.other.end()
  }

  onDrain(): void {
    this.other.resume()
  }

  onClose(err?: StreamError): void {
    if (this.closed) return
    this.closed = true
    if (err !== undefined) {
      this.state.err ??= err
      this.other.reset(err)
    } else {
      // Closed cleanly: both of its directions ended, so the other side got our FIN already.
      this.other.end()
    }
    if (--this.state.open === 0) this.state.done?.(this.state.err)
  }
}
