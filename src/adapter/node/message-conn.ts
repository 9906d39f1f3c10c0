/**
 * A message socket (a WebSocket of any runtime) seen as a StreamConn. Writes made in one
 * event-loop turn are gathered and leave as one binary message (several length-prefixed frames
 * per message, DESIGN.md §3); each received message is handed on whole. Used by every runtime's
 * WebSocket glue (node:timers' setImmediate exists on Node, Bun and Deno).
 */
import { setImmediate, setTimeout } from 'node:timers'
import { MessageBatch } from '../../core/tunnel/message-batch.ts'
import type { SocketAddress, StreamConn, StreamHandlers } from '../types.ts'

/** Largest message we build from gathered writes; a bigger write goes out alone. */
const MAX_MESSAGE = 256 * 1024
/** Above this many bytes buffered, write() reports backpressure (callers may drop). */
const HIGH_WATER = 1 << 20

export interface MessageSocket {
  /** Sends one binary message; returns false if the runtime dropped it. */
  send(data: Uint8Array): boolean
  /** Bytes the runtime holds for sending. */
  bufferedAmount(): number
  close(code: number, reason: string): void
  /** Drops the connection without a close handshake. */
  terminate(): void
}

export interface MessageConnControl {
  conn: StreamConn
  /** The runtime received one binary message. */
  message(data: Uint8Array): void
  /** The runtime received a text message: refused, binary only. */
  text(): void
  /** The socket is closed (for whatever reason). */
  closed(err?: Error): void
  /** The runtime's send buffer drained. */
  drained(): void
}

export function messageConn(sock: MessageSocket, remote: SocketAddress, local: SocketAddress): MessageConnControl {
  let handlers: StreamHandlers | undefined
  const early: Uint8Array[] = []
  let isClosed = false
  let closeError: Error | undefined
  const batch = new MessageBatch()
  let scheduled = false
  let ending = false

  const flush = () => {
    scheduled = false
    const message = batch.take()
    if (message === undefined || isClosed) return
    sock.send(message)
  }

  const conn: StreamConn = {
    remote,
    local,
    write(data) {
      if (isClosed || ending) return false
      if (batch.bytes > 0 && batch.bytes + data.length > MAX_MESSAGE) flush()
      // The caller may reuse `data` once we return only for adapters' read buffers; frames we are
      // given are fresh, so no copy is needed here.
      batch.add(data)
      if (!scheduled) {
        scheduled = true
        setImmediate(flush)
      }
      return sock.bufferedAmount() + batch.bytes < HIGH_WATER
    },
    get bufferedAmount() {
      return sock.bufferedAmount() + batch.bytes
    },
    setHandlers(h) {
      handlers = h
      for (const m of early.splice(0)) h.onData(m)
      if (isClosed) h.onClose(closeError)
    },
    end() {
      if (isClosed || ending) return
      ending = true
      flush()
      sock.close(1000, '')
    },
    destroy(err) {
      if (isClosed) return
      batch.clear()
      if (err) sock.close(1011, err.message.slice(0, 120))
      else sock.terminate()
    },
  }

  return {
    conn,
    message(data) {
      if (isClosed) return
      if (handlers) handlers.onData(data)
      else early.push(data.slice())
    },
    text() {
      if (isClosed) return
      sock.close(1003, 'edgerelay takes binary messages only')
      // A peer that never answers the close handshake is cut.
      setTimeout(() => {
        if (!isClosed) sock.terminate()
      }, 2000).unref()
    },
    closed(err) {
      if (isClosed) return
      isClosed = true
      closeError = err
      batch.clear()
      handlers?.onClose(err)
    },
    drained() {
      handlers?.onDrain?.()
    },
  }
}
