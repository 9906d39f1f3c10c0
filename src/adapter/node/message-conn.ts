/**
 * A message socket (a WebSocket of any runtime) seen as a StreamConn. Writes made in one
 * event-loop turn are gathered and leave as one binary message (several length-prefixed frames
 * per message, docs/wire-protocol.md#websocket); each received message is handed on whole. Used by every runtime's
 * WebSocket glue (node:timers' setImmediate exists on Node, Bun and Deno).
 *
 * A class rather than closures: an idle tunnel holds one of these per connection, and an object
 * literal with a getter (or a closure renamed by tsx's keepNames) is a dictionary-mode object in
 * V8, several hundred bytes each.
 */
import { setImmediate, setTimeout } from 'node:timers'
import { MAX_BATCH_BYTES, MessageBatch } from '../../base/message-batch.ts'
import type { SocketAddress, StreamConn, StreamHandlers } from '../../ports/runtime.ts'

/** Largest message we build from gathered writes; a bigger write goes out alone. */
const MAX_MESSAGE = MAX_BATCH_BYTES
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

// Timer callbacks get the conn as an argument: no closure per connection.
const flushScheduled = (c: MessageConn): void => c.flush()
const cutIfOpen = (c: MessageConn): void => c.cutIfOpen()

class MessageConn implements StreamConn, MessageConnControl {
  readonly remote: SocketAddress
  readonly local: SocketAddress
  private readonly sock: MessageSocket
  private handlers: StreamHandlers | undefined = undefined
  /** Messages that arrived before setHandlers (copies). */
  private early: Uint8Array[] | undefined = undefined
  private isClosed = false
  private closeError: Error | undefined = undefined
  private readonly batch = new MessageBatch()
  private scheduled = false
  private ending = false

  constructor(sock: MessageSocket, remote: SocketAddress, local: SocketAddress) {
    this.sock = sock
    this.remote = remote
    this.local = local
  }

  get conn(): StreamConn {
    return this
  }

  flush(): void {
    this.scheduled = false
    const message = this.batch.take()
    if (message === undefined || this.isClosed) return
    this.sock.send(message)
  }

  cutIfOpen(): void {
    if (!this.isClosed) this.sock.terminate()
  }

  // --- StreamConn ---

  write(data: Uint8Array): boolean {
    if (this.isClosed || this.ending) return false
    const batch = this.batch
    if (batch.bytes > 0 && batch.bytes + data.length > MAX_MESSAGE) this.flush()
    // The caller may reuse `data` once we return only for adapters' read buffers; frames we are
    // given are fresh, so no copy is needed here.
    batch.add(data)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(flushScheduled, this)
    }
    return this.sock.bufferedAmount() + batch.bytes < HIGH_WATER
  }

  get bufferedAmount(): number {
    return this.sock.bufferedAmount() + this.batch.bytes
  }

  setHandlers(h: StreamHandlers): void {
    this.handlers = h
    const early = this.early
    this.early = undefined
    if (early) for (const m of early) h.onData(m)
    if (this.isClosed) h.onClose(this.closeError)
  }

  end(reason?: Error): void {
    if (this.isClosed || this.ending) return
    this.ending = true
    this.flush()
    // 1008 (policy violation) with the reason, which a peer reads as the close reason (at most 123 bytes).
    if (reason) this.sock.close(1008, closeReason(reason))
    else this.sock.close(1000, '')
  }

  destroy(err?: Error): void {
    if (this.isClosed) return
    this.batch.clear()
    if (err) this.sock.close(1011, closeReason(err))
    else this.sock.terminate()
  }

  // --- MessageConnControl ---

  message(data: Uint8Array): void {
    if (this.isClosed) return
    if (this.handlers) this.handlers.onData(data)
    else (this.early ??= []).push(data.slice())
  }

  text(): void {
    if (this.isClosed) return
    this.sock.close(1003, 'edgerelay takes binary messages only')
    // A peer that never answers the close handshake is cut.
    setTimeout(cutIfOpen, 2000, this).unref()
  }

  closed(err?: Error): void {
    if (this.isClosed) return
    this.isClosed = true
    this.closeError = err
    this.batch.clear()
    this.handlers?.onClose(err)
  }

  drained(): void {
    this.handlers?.onDrain?.()
  }
}

/** A close frame's reason: at most 123 bytes of UTF-8. */
export function closeReason(err: Error): string {
  let text = err.message.slice(0, 123)
  while (new TextEncoder().encode(text).length > 123) text = text.slice(0, -1)
  return text
}

export function messageConn(sock: MessageSocket, remote: SocketAddress, local: SocketAddress): MessageConnControl {
  return new MessageConn(sock, remote, local)
}
