/**
 * One TCP stream inside a tunnel connection, as a ByteStream (docs/wire-protocol.md#tcp-streams).
 * The StreamMux of the connection routes this stream's frames here and sends what it asks for;
 * this class keeps the stream's state: open handshake, credit both ways, half-close, reset.
 *
 * Memory is bounded by the protocol: what the peer sends is limited by the credit we granted (the
 * receive window), and what the local writer queues is limited by write() returning false.
 */
import { Kind, type Frame } from '../../protocol/frame.ts'
import type { ByteStream, ByteStreamHandlers } from './byte-stream.ts'
import { codeName, StreamCode, StreamError, type StreamCodeName } from './codes.ts'
import { MAX_CREDIT, ReceiveWindow, SendCredit } from './flow-control.ts'

/** Largest payload of one data frame: big enough to be cheap, small enough to interleave streams. */
export const MAX_DATA_FRAME = 32 * 1024
/** write() says "wait" above this many queued bytes; onDrain fires once the queue is below half. */
export const SEND_QUEUE_HIGH = 64 * 1024

const EMPTY = new Uint8Array(0)

/** What a stream needs from its connection's multiplexer. */
export interface MuxLink {
  readonly label: string
  /** True while stream data must wait (the connection's send buffer is full, or control frames are queued). */
  blocked(): boolean
  /** Sends a data frame now (the caller checked blocked()). */
  sendData(frame: Frame): void
  /** Sends a control frame (open, window, close) now or as soon as the connection has room. */
  sendControl(frame: Frame): void
  /** The stream has data and credit but the connection is full: call its sendOne() when there is room. */
  wantRoom(stream: TunnelStream): void
  /** The stream is finished: forget its id, release its window. */
  finished(stream: TunnelStream, err: StreamError | undefined, sentReset: boolean): void
  /** Credit was granted: the mux measures round trips while data flows. */
  granted(): void
}

export type StreamState = 'opening' | 'pending' | 'open' | 'closed'

export class TunnelStream implements ByteStream {
  readonly id: number
  state: StreamState
  /** open frames: what the opener asked for, and where it came from. */
  readonly dst: string | undefined
  readonly src: string | undefined
  /** The far end's local address, from the accept (opener side). */
  bound: string | undefined
  /** @internal The mux's fair queue. */
  inRoomQueue = false

  private readonly link: MuxLink
  private readonly recv: ReceiveWindow
  private send: SendCredit | undefined
  private handlers: ByteStreamHandlers | undefined
  private paused = false
  /** Data received while paused (or before handlers were set): at most the receive window. */
  private recvQueue: Uint8Array[] | undefined
  private remoteEnded = false
  private endDelivered = false
  /** Bytes waiting for credit or for room on the connection. */
  private sendQueue: Uint8Array[] = []
  private sendHead = 0
  private sendQueued = 0
  private needDrain = false
  private localEnded = false
  private finSent = false
  /** Opener: settles `opened`. */
  private settle: { resolve: (s: TunnelStream) => void; reject: (e: StreamError) => void } | undefined
  /** Acceptor: aborted when the opener gives up before we accepted. */
  private abort: AbortController | undefined
  private closeError: StreamError | undefined

  constructor(link: MuxLink, id: number, state: 'opening' | 'pending', recv: ReceiveWindow, open: { dst?: string; src?: string; credit?: number }) {
    this.link = link
    this.id = id
    this.state = state
    this.recv = recv
    this.dst = open.dst
    this.src = open.src
    if (open.credit !== undefined) this.send = new SendCredit(Math.min(open.credit, MAX_CREDIT))
    if (state === 'opening') {
      this.opened = new Promise((resolve, reject) => {
        this.settle = { resolve, reject }
      })
      // A caller that stops waiting must not leave an unhandled rejection behind.
      this.opened.catch(() => {})
    }
  }

  /** For logs (made when asked: an idle stream keeps no string of its own). */
  get label(): string {
    return `stream ${this.id} on ${this.link.label}`
  }

  /** The open frame this side sends (opener: the request; acceptor: the acceptance). */
  openFrame(): Frame {
    const frame: Frame = { flow: this.id, id: this.recv.window, kind: Kind.open, payload: EMPTY }
    if (this.state === 'opening') {
      if (this.dst !== undefined) frame.dst = this.dst
      if (this.src !== undefined) frame.src = this.src
    } else if (this.bound !== undefined) {
      frame.src = this.bound
    }
    return frame
  }

  /** Opener: resolves when the peer accepts, rejects with its refusal (undefined on the accepting side). */
  readonly opened: Promise<TunnelStream> | undefined

  /** Acceptor: aborted if the opener resets the stream (or the connection goes) before accept(). */
  get signal(): AbortSignal {
    this.abort ??= new AbortController()
    if (this.state === 'closed') this.abort.abort(this.closeError)
    return this.abort.signal
  }

  /** Acceptor: the destination is connected; tell the opener. False when the stream is already gone. */
  accept(bound?: string): boolean {
    if (this.state !== 'pending') return false
    this.bound = bound
    this.state = 'open'
    // Only a stream still opening can be given up; an open one is reset instead.
    this.abort = undefined
    this.link.sendControl(this.openFrame())
    this.pushOut()
    return true
  }

  /** Acceptor: the destination could not be reached. */
  refuse(err: StreamError): void {
    if (this.state !== 'pending') return
    this.resetWith(err)
  }

  // --- ByteStream ---

  setHandlers(h: ByteStreamHandlers): void {
    this.handlers = h
    if (this.state === 'closed' && this.recvQueue === undefined) {
      if (this.closeError === undefined && this.remoteEnded && !this.endDelivered) {
        this.endDelivered = true
        h.onEnd()
      }
      h.onClose(this.closeError)
      return
    }
    this.flushReceived()
  }

  write(chunk: Uint8Array): boolean {
    if (this.state === 'closed' || this.localEnded) return false
    if (chunk.length === 0) return true
    this.sendQueue.push(chunk)
    this.sendQueued += chunk.length
    this.pushOut()
    if (this.sendQueued >= SEND_QUEUE_HIGH) {
      this.needDrain = true
      return false
    }
    return true
  }

  end(): void {
    if (this.state === 'closed' || this.localEnded) return
    this.localEnded = true
    this.pushOut()
  }

  reset(err: StreamError): void {
    this.resetWith(err)
  }

  pause(): void {
    this.paused = true
  }

  resume(): void {
    if (!this.paused) return
    this.paused = false
    this.flushReceived()
  }

  // --- frames from the peer (through the mux) ---

  /** @internal */
  onAccept(frame: Frame): void {
    if (this.state !== 'opening') return this.protocolError(`open for stream ${this.id}, which is already open`)
    this.state = 'open'
    this.send = new SendCredit(Math.min(frame.id, MAX_CREDIT))
    if (frame.src !== undefined) this.bound = frame.src
    const settle = this.settle
    this.settle = undefined
    settle?.resolve(this)
    this.pushOut()
  }

  /** @internal */
  onData(payload: Uint8Array): void {
    if (this.state !== 'open') return this.protocolError(`data on stream ${this.id} before it was accepted`)
    if (this.remoteEnded) return this.protocolError(`data on stream ${this.id} after its end`)
    if (payload.length === 0) return
    if (!this.recv.received(payload.length)) {
      return this.resetWith(new StreamError('flow_control', `the peer sent ${payload.length} bytes on stream ${this.id} with only ${this.recv.outstanding} bytes of credit`))
    }
    // The payload is a view into the connection's read buffer: the reader gets its own copy.
    const chunk = payload.slice()
    if (this.paused || this.handlers === undefined || this.recvQueue !== undefined) {
      ;(this.recvQueue ??= []).push(chunk)
      return
    }
    this.deliver(chunk)
  }

  /** @internal */
  onWindow(credit: number): void {
    if (this.send === undefined) return this.protocolError(`window update on stream ${this.id} before it was accepted`)
    if (!this.send.grant(credit)) {
      return this.resetWith(new StreamError('flow_control', `window update of ${credit} on stream ${this.id} takes its credit past ${MAX_CREDIT}`))
    }
    this.pushOut()
  }

  /** @internal A close frame: FIN (code 0) or a reset from the peer. */
  onClose(code: number, text: string | undefined): void {
    if (code !== StreamCode.fin) {
      const name = codeName(code)
      this.finish(new StreamError(name, text ? `${name}: ${text}` : `the other half reset ${this.label} (${name})`), false)
      return
    }
    if (this.state !== 'open') return this.protocolError(`end of stream ${this.id} before it was accepted`)
    if (this.remoteEnded) return
    this.remoteEnded = true
    this.flushReceived()
  }

  /** @internal The connection is gone or the half is stopping: ends the stream without a frame. */
  terminate(err: StreamError): void {
    this.finish(err, true)
  }

  /**
   * @internal The mux has room for one frame of this stream. Returns true when the stream has more
   * to send (and credit for it) and wants another turn.
   */
  sendOne(): boolean {
    if (this.state !== 'open' || this.send === undefined) return false
    const credit = this.send.credit
    if (this.sendQueued > 0 && credit > 0) {
      const head = this.sendQueue[0]!
      const n = Math.min(head.length - this.sendHead, credit, MAX_DATA_FRAME)
      const payload = n === head.length ? head : head.subarray(this.sendHead, this.sendHead + n)
      this.sendHead += n
      if (this.sendHead === head.length) {
        this.sendQueue.shift()
        this.sendHead = 0
      }
      this.sendQueued -= n
      this.send.credit -= n
      this.link.sendData({ flow: this.id, id: 0, kind: Kind.data, payload })
      if (this.needDrain && this.sendQueued < SEND_QUEUE_HIGH / 2) {
        this.needDrain = false
        this.handlers?.onDrain()
        if (this.state !== 'open') return false
      }
    }
    if (this.sendQueued === 0 && this.localEnded && !this.finSent) {
      this.finSent = true
      this.link.sendControl({ flow: this.id, id: StreamCode.fin, kind: Kind.close, payload: EMPTY })
      this.maybeDone()
      return false
    }
    return this.sendQueued > 0 && this.send.credit > 0
  }

  // --- internals ---

  /** Sends what credit and the connection allow; waits in the mux's queue for the rest. */
  private pushOut(): void {
    if (this.state !== 'open' || this.inRoomQueue) return
    while (!this.link.blocked()) {
      if (!this.sendOne()) return
    }
    this.link.wantRoom(this)
  }

  private deliver(chunk: Uint8Array): void {
    this.handlers!.onData(chunk)
    const grant = this.recv.consumed(chunk.length)
    if (grant > 0 && this.state === 'open') {
      this.link.sendControl({ flow: this.id, id: grant, kind: Kind.window, payload: EMPTY })
      this.link.granted()
    }
  }

  /** Delivers queued data (and a pending end) while the reader is not paused. */
  private flushReceived(): void {
    if (this.handlers === undefined) return
    const queue = this.recvQueue
    if (queue !== undefined) {
      while (queue.length > 0 && !this.paused && this.handlers !== undefined) {
        this.deliver(queue.shift()!)
        if (this.recvQueue === undefined) return // closed meanwhile
      }
      if (queue.length > 0) return
      this.recvQueue = undefined
    }
    if (this.paused) return
    if (this.remoteEnded && !this.endDelivered) {
      this.endDelivered = true
      this.handlers.onEnd()
    }
    if (this.state === 'closed') this.handlers.onClose(this.closeError)
    else this.maybeDone()
  }

  /** Both ends sent FIN and the reader has everything: the stream is over. */
  private maybeDone(): void {
    if (this.finSent && this.endDelivered && this.state === 'open') this.finish(undefined, false)
  }

  private protocolError(message: string): void {
    this.resetWith(new StreamError('protocol', message))
  }

  /** Resets the stream: tells the peer (unless the stream already ended) and closes locally. */
  private resetWith(err: StreamError): void {
    if (this.state === 'closed') return
    this.link.sendControl({ flow: this.id, id: StreamCode[err.streamCode as StreamCodeName] || StreamCode.internal, kind: Kind.close, payload: EMPTY, error: err.message.slice(0, 300) })
    this.finish(err, true)
  }

  private finish(err: StreamError | undefined, sentReset: boolean): void {
    if (this.state === 'closed') return
    const wasOpening = this.state === 'opening'
    this.state = 'closed'
    this.closeError = err
    this.sendQueue = []
    this.sendQueued = 0
    this.recv.release()
    if (err !== undefined) this.recvQueue = undefined
    this.link.finished(this, err, sentReset)
    this.abort?.abort(err)
    if (wasOpening) {
      const settle = this.settle
      this.settle = undefined
      settle?.reject(err ?? new StreamError('protocol', `${this.label} ended before it was accepted`))
      return
    }
    // Without an error, queued data still reaches the reader (flushReceived reports the close).
    if (this.handlers !== undefined && this.recvQueue === undefined) this.handlers.onClose(err)
  }
}
