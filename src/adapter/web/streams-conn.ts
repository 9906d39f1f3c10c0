/**
 * A TCP connection given as a pair of web streams (workerd's `cloudflare:sockets` connect(),
 * Deno.connect) seen as a StreamConn. Writes are queued in user space and handed to the writer
 * one after the other; bufferedAmount counts what the writer has not taken yet. pause() stops
 * reading (the platform's buffers then hold the peer back). With `allowHalfOpen` the peer's FIN
 * is onEnd and the connection stays writable until end(); without it, the FIN closes it. No
 * runtime globals.
 */
import type { SocketAddress, StreamConn, StreamHandlers } from '../../ports/runtime.ts'

/** Above this many queued bytes, write() reports backpressure. */
const HIGH_WATER = 1 << 20
/** After our FIN, how long the peer has to answer with its own before the connection is closed. */
const FIN_WAIT_MS = 2000

export interface WebStreamSocket {
  readable: ReadableStream<Uint8Array>
  writable: WritableStream<Uint8Array>
  /** Closes both directions at once. */
  close(): void | Promise<void>
}

export function streamsConn(sock: WebStreamSocket, remote: SocketAddress, local: SocketAddress, opts: { allowHalfOpen?: boolean } = {}): StreamConn {
  const writer = sock.writable.getWriter()
  const reader = sock.readable.getReader()
  let handlers: StreamHandlers | undefined
  const early: Uint8Array[] = []
  let queued = 0
  let closed = false
  let closeError: Error | undefined
  let ending = false
  /** The peer's FIN arrived (only kept open with allowHalfOpen). */
  let readDone = false
  let endedEarly = false
  let chain: Promise<void> = Promise.resolve()
  let paused: { promise: Promise<void>; resume: () => void } | undefined

  const finish = (err?: Error) => {
    if (closed) return
    closed = true
    closeError = err
    paused?.resume()
    try {
      void Promise.resolve(sock.close()).catch(() => {})
    } catch {
      // already closed
    }
    handlers?.onClose(err)
  }

  void (async () => {
    try {
      for (;;) {
        if (paused) await paused.promise
        if (closed) return
        const { value, done } = await reader.read()
        if (done) break
        if (closed) return
        if (handlers) handlers.onData(value)
        else early.push(value)
      }
      if (!opts.allowHalfOpen || ending) return finish()
      readDone = true
      if (handlers) handlers.onEnd?.()
      else endedEarly = true
    } catch (err) {
      finish(err instanceof Error ? err : new Error(String(err)))
    }
  })()

  return {
    remote,
    local,
    write(data) {
      if (closed || ending) return false
      queued += data.length
      chain = chain.then(() => writer.write(data)).then(() => {
        queued -= data.length
        if (queued === 0) handlers?.onDrain?.()
      }, (err) => finish(err instanceof Error ? err : new Error(String(err))))
      return queued < HIGH_WATER
    },
    get bufferedAmount() {
      return queued
    },
    setHandlers(h) {
      handlers = h
      for (const c of early.splice(0)) h.onData(c)
      if (endedEarly) h.onEnd?.()
      if (closed) h.onClose(closeError)
    },
    end() {
      if (closed || ending) return
      ending = true
      chain = chain.then(() => writer.close()).catch(() => {}).then(() => {
        // Both FINs done: closed now. Else the peer answers ours with its own; the wait is bounded as on the other adapters.
        if (readDone) finish()
        else setTimeout(() => finish(), FIN_WAIT_MS)
      })
    },
    destroy(err) {
      if (closed) return
      void writer.abort(err).catch(() => {})
      void reader.cancel(err).catch(() => {})
      finish(err)
    },
    pause() {
      if (closed || paused) return
      let resume!: () => void
      const promise = new Promise<void>((r) => (resume = r))
      paused = { promise, resume }
    },
    resume() {
      const p = paused
      paused = undefined
      p?.resume()
    },
  }
}
