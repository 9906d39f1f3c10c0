/**
 * A TCP connection given as a pair of web streams (workerd's `cloudflare:sockets` connect(),
 * Deno.connect) seen as a StreamConn. Writes are queued in user space and handed to the writer
 * one after the other; bufferedAmount counts what the writer has not taken yet. No runtime globals.
 */
import type { SocketAddress, StreamConn, StreamHandlers } from '../../ports/runtime.ts'

/** Above this many queued bytes, write() reports backpressure. */
const HIGH_WATER = 1 << 20

export interface WebStreamSocket {
  readable: ReadableStream<Uint8Array>
  writable: WritableStream<Uint8Array>
  /** Closes both directions at once. */
  close(): void | Promise<void>
}

export function streamsConn(sock: WebStreamSocket, remote: SocketAddress, local: SocketAddress): StreamConn {
  const writer = sock.writable.getWriter()
  const reader = sock.readable.getReader()
  let handlers: StreamHandlers | undefined
  const early: Uint8Array[] = []
  let queued = 0
  let closed = false
  let closeError: Error | undefined
  let ending = false
  let chain: Promise<void> = Promise.resolve()

  const finish = (err?: Error) => {
    if (closed) return
    closed = true
    closeError = err
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
        const { value, done } = await reader.read()
        if (done) break
        if (closed) return
        if (handlers) handlers.onData(value)
        else early.push(value)
      }
      finish()
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
      if (closed) h.onClose(closeError)
    },
    end() {
      if (closed || ending) return
      ending = true
      chain = chain.then(() => writer.close()).catch(() => {}).then(() => {
        // The peer answers our FIN with its own; bound the wait like the other adapters do.
        setTimeout(() => finish(), 2000)
      })
    },
    destroy(err) {
      if (closed) return
      void writer.abort(err).catch(() => {})
      void reader.cancel(err).catch(() => {})
      finish(err)
    },
  }
}
