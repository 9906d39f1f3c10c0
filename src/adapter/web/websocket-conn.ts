/**
 * A standard WebSocket seen as a StreamConn, with web APIs only (no node:*): the server side of the
 * edge entries (workerd's WebSocketPair, Deno.upgradeWebSocket under `deno serve`) and the browser
 * client's socket. Writes made in one turn leave as one binary message of length-prefixed frames
 * (docs/wire-protocol.md); every received binary message is handed on whole and in order, whether
 * the runtime delivers it as an ArrayBuffer, a view or a Blob (workerd: docs/runtimes.md).
 */
import { MAX_BATCH_BYTES, MessageBatch } from '../../base/message-batch.ts'
import type { SocketAddress, StreamConn, StreamHandlers } from '../../ports/runtime.ts'

/** Largest message built from gathered writes; a bigger write goes out alone. */
const MAX_MESSAGE = MAX_BATCH_BYTES
/** Above this many bytes buffered, write() reports backpressure (callers may drop). */
const HIGH_WATER = 1 << 20

/** The parts of the standard WebSocket interface used here. */
export interface StandardWebSocket {
  binaryType?: string
  readonly bufferedAmount?: number
  send(data: ArrayBufferLike | ArrayBufferView): void
  close(code?: number, reason?: string): void
  addEventListener(type: 'message', fn: (ev: { data: unknown }) => void): void
  addEventListener(type: 'close' | 'error', fn: (ev: unknown) => void): void
}

export interface WebSocketConn {
  conn: StreamConn
  /** Settles when the socket has closed, for whatever reason. */
  closed: Promise<void>
}

/** Wraps an open WebSocket (an accepted one: workerd right after accept(); a client one after 'open'). */
export function webSocketConn(ws: StandardWebSocket, remote: SocketAddress, local: SocketAddress): WebSocketConn {
  try {
    ws.binaryType = 'arraybuffer'
  } catch {
    // some runtimes have a read-only binaryType: Blobs are handled below
  }
  let handlers: StreamHandlers | undefined
  const early: Uint8Array[] = []
  let isClosed = false
  let ending = false
  const batch = new MessageBatch()
  let scheduled = false
  // Blob messages are read asynchronously: keep their order with one chain.
  let inbound: Promise<void> = Promise.resolve()
  let pendingBlobs = 0
  let markClosed!: () => void
  const closed = new Promise<void>((r) => (markClosed = r))

  const buffered = () => ws.bufferedAmount ?? 0

  const flush = () => {
    scheduled = false
    const message = batch.take()
    if (message === undefined || isClosed) return
    try {
      ws.send(message)
    } catch (err) {
      close(err as Error)
    }
  }

  const deliver = (data: Uint8Array) => {
    if (isClosed) return
    if (handlers) handlers.onData(data)
    else early.push(data)
  }

  const close = (err?: Error) => {
    if (isClosed) return
    isClosed = true
    batch.clear()
    handlers?.onClose(err)
    markClosed()
  }

  ws.addEventListener('message', (ev) => {
    const data = ev.data
    if (typeof data === 'string') {
      ws.close(1003, 'edgerelay takes binary messages only')
      close(new Error('text message refused: edgerelay takes binary messages only'))
      return
    }
    if (pendingBlobs === 0 && data instanceof ArrayBuffer) return deliver(new Uint8Array(data))
    if (pendingBlobs === 0 && ArrayBuffer.isView(data)) return deliver(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    pendingBlobs++
    inbound = inbound.then(async () => {
      const bytes = data instanceof Blob ? new Uint8Array(await data.arrayBuffer()) : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data as ArrayBuffer)
      pendingBlobs--
      deliver(bytes)
    })
  })
  ws.addEventListener('close', () => close())
  ws.addEventListener('error', () => close(new Error('WebSocket error')))

  const conn: StreamConn = {
    remote,
    local,
    write(data) {
      if (isClosed || ending) return false
      if (batch.bytes > 0 && batch.bytes + data.length > MAX_MESSAGE) flush()
      batch.add(data)
      if (!scheduled) {
        scheduled = true
        setTimeout(flush, 0)
      }
      return buffered() + batch.bytes < HIGH_WATER
    },
    get bufferedAmount() {
      return buffered() + batch.bytes
    },
    setHandlers(h) {
      handlers = h
      for (const m of early.splice(0)) h.onData(m)
      if (isClosed) h.onClose()
    },
    end(reason) {
      if (isClosed || ending) return
      ending = true
      flush()
      try {
        // 1008 with the reason (at most 123 bytes), which the peer reads as the close reason.
        if (reason) ws.close(1008, reason.message.slice(0, 100))
        else ws.close(1000, '')
      } catch {
        // already closing
      }
      // The close handshake ends in a 'close' event; do not wait for it forever.
      setTimeout(() => close(), 2000)
    },
    destroy(err) {
      if (isClosed) return
      try {
        ws.close(err ? 1011 : 1001, err ? err.message.slice(0, 120) : 'going away')
      } catch {
        // already closed
      }
      close(err)
    },
  }
  return { conn, closed }
}
