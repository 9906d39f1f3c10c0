/**
 * A ByteStream as a WHATWG `{ readable, writable }` pair (the browser client's openStream, and
 * anything else that speaks web streams). Backpressure goes both ways: the readable's queue is
 * bounded in bytes and a full one pauses the stream (the tunnel's window then holds the far end
 * back); a write waits while the stream says it is full. Closing the writable is a FIN; the
 * readable closes at the far end's FIN; cancelling or aborting either resets the stream.
 */
import type { ByteStream } from './byte-stream.ts'
import { StreamError } from './codes.ts'

/** Bytes the readable holds before the stream is paused. */
const READ_HIGH_WATER = 256 * 1024

export interface WebStreamPair {
  readable: ReadableStream<Uint8Array>
  writable: WritableStream<Uint8Array>
}

export function webPair(stream: ByteStream): WebStreamPair {
  let reader!: ReadableStreamDefaultController<Uint8Array>
  let readDone = false
  let failure: StreamError | undefined
  let drained: { resolve(): void; reject(err: Error): void } | undefined

  const fail = (err: StreamError) => {
    failure ??= err
    if (!readDone) {
      readDone = true
      reader.error(err)
    }
    drained?.reject(err)
    drained = undefined
  }

  const readable = new ReadableStream<Uint8Array>({
    start(controller) {
      reader = controller
    },
    pull() {
      stream.resume()
    },
    cancel(reason) {
      readDone = true
      stream.reset(new StreamError('reset', `the reader cancelled: ${String(reason ?? 'no reason')}`))
    },
  }, { highWaterMark: READ_HIGH_WATER, size: (chunk) => chunk.byteLength })

  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      if (failure) throw failure
      const bytes = chunk instanceof Uint8Array ? chunk.slice() : new Uint8Array(chunk as ArrayBuffer)
      if (stream.write(bytes)) return
      // The stream keeps the bytes; the next write waits for room.
      return new Promise<void>((resolve, reject) => (drained = { resolve, reject }))
    },
    close() {
      if (failure) throw failure
      stream.end()
    },
    abort(reason) {
      stream.reset(new StreamError('reset', `the writer aborted: ${String(reason ?? 'no reason')}`))
    },
  })

  stream.setHandlers({
    onData(chunk) {
      if (readDone) return
      reader.enqueue(chunk)
      if ((reader.desiredSize ?? 1) <= 0) stream.pause()
    },
    onEnd() {
      if (readDone) return
      readDone = true
      reader.close()
    },
    onDrain() {
      const d = drained
      drained = undefined
      d?.resolve()
    },
    onClose(err) {
      if (err) return fail(err)
      // Both directions done: a reader still open gets its end; a waiting writer learns it is over.
      if (!readDone) {
        readDone = true
        reader.close()
      }
      drained?.reject(new StreamError('reset', 'the stream closed'))
      drained = undefined
    },
  })
  return { readable, writable }
}
