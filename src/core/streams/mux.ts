/**
 * The streams of one tunnel connection (docs/wire-protocol.md#tcp-streams): stream ids, the
 * limit on concurrent streams, routing of open/data/close/window frames, and a fair share of the
 * connection's send buffer, which streams share with the datagram flows.
 *
 * Stream data never overfills the connection: it waits while the send buffer holds more than
 * CONN_STREAM_HIGH bytes (well below the 4 MiB at which datagram frames are dropped,
 * src/core/tunnel/bounded-conn.ts), and waiting streams take turns one frame each when it drains.
 * Control frames (open, window, close) are small and go out at once unless the buffer is at the
 * datagram limit; then they queue here (at most a few per stream) so none is ever dropped.
 */
import type { Clock } from '../../base/clock.ts'
import type { Logger } from '../../base/logger.ts'
import type { DropReporter, Stats } from '../../base/stats.ts'
import { RelayError } from '../../base/errors.ts'
import type { Budget } from '../../base/limits.ts'
import { Kind, type Frame } from '../../protocol/frame.ts'
import type { Session, SessionStreams } from '../tunnel/session.ts'
import { MAX_BUFFERED } from '../tunnel/bounded-conn.ts'
import { StreamCode, StreamError } from './codes.ts'
import { ReceiveWindow, WindowBudget, type WindowEnv } from './flow-control.ts'
import { TunnelStream, type MuxLink } from './tunnel-stream.ts'

/** Stream data waits while the connection's send buffer holds this much. */
export const CONN_STREAM_HIGH = 1 << 20
/** Default limit of concurrent streams per connection (both directions, opening ones included). */
export const MAX_STREAMS = 1024
/** How often a busy connection re-measures its round trip (ms). */
const RTT_EVERY_MS = 1000
/** While blocked, how often the send buffer is looked at when the transport has no drain event (ms). */
const DRAIN_POLL_MS = 1
/** Ids of streams we reset, remembered so the peer's frames still in flight are not reported as bad input. */
const RECENT_RESETS = 256
const EMPTY = new Uint8Array(0)

export interface MuxOptions {
  /** 'client' dialled the connection and opens odd stream ids; 'server' opens even ones. */
  side: 'client' | 'server'
  maxStreams?: number
  clock: Clock
  stats: Stats
  drops: DropReporter
  logger: Logger
  /**
   * Incoming opens. Undefined: this side only opens streams, and refuses the peer's with
   * `unsupported`. The handler calls stream.accept() or stream.refuse() (later is fine).
   */
  accept?: (stream: TunnelStream) => void
  /** Receive-window budget of the connection (default MAX_CONNECTION_WINDOW). */
  budget?: WindowBudget
  /**
   * The half's bound on streams the peers open, across all its connections (--max-tcp-streams):
   * each one the half accepts dials a connection of its own.
   */
  halfStreams?: Budget
}

export class StreamMux implements SessionStreams, MuxLink, WindowEnv {
  readonly session: Session
  readonly label: string
  /** The peer answered an open with "not supported": it predates streams. */
  peerLacksStreams = false
  private readonly opts: MuxOptions
  private readonly maxStreams: number
  readonly budget: WindowBudget
  readonly clock: Clock
  private readonly streams = new Map<number, TunnelStream>()
  /** Incoming streams holding a place in the half's budget. */
  private readonly counted = new Set<TunnelStream>()
  private nextId: number
  private readonly room = new Set<TunnelStream>()
  private control: Frame[] = []
  private poll: unknown
  private closed = false
  private srtt = 0
  private pingId = 0
  private pingSentAt = 0
  private lastRtt = -Infinity
  private readonly recentResets = new Set<number>()

  constructor(session: Session, opts: MuxOptions) {
    this.session = session
    this.label = session.label
    this.opts = opts
    this.maxStreams = opts.maxStreams ?? MAX_STREAMS
    this.budget = opts.budget ?? new WindowBudget()
    this.clock = opts.clock
    this.nextId = opts.side === 'client' ? 1 : 2
    session.streams = this
    session.onClose(() => this.shutdown(new StreamError('shutdown', `tunnel connection to ${this.label} lost`)))
  }

  get size(): number {
    return this.streams.size
  }

  /** Whether this connection can take another stream now. */
  get canOpen(): boolean {
    return !this.closed && !this.peerLacksStreams && this.streams.size < this.maxStreams
  }

  /**
   * Opens a stream: its `opened` resolves when the peer accepted it and rejects with the refusal
   * (a StreamError). Throws a StreamError when this connection cannot take one (check canOpen).
   */
  open(dst: string | undefined, src: string | undefined): TunnelStream {
    if (this.closed) throw new StreamError('shutdown', `tunnel connection to ${this.label} is closed`)
    if (this.peerLacksStreams) throw this.lacksStreams()
    if (this.streams.size >= this.maxStreams) throw new StreamError('too_many', `tunnel connection to ${this.label} already carries ${this.maxStreams} streams`)
    const id = this.allocateId()
    const stream = new TunnelStream(this, id, 'opening', this.window(), { dst, src })
    this.streams.set(id, stream)
    this.opts.stats.max('streams.active_peak', this.streams.size)
    this.sendControl(stream.openFrame())
    this.opts.stats.add('streams.opened')
    this.granted()
    return stream
  }

  /** Resets every stream (the half stops, or the connection went). */
  shutdown(err: StreamError): void {
    if (this.closed) return
    this.closed = true
    this.stopPoll()
    for (const s of [...this.streams.values()]) s.terminate(err)
    this.streams.clear()
    this.room.clear()
    this.control = []
  }

  // --- SessionStreams: what the session hands us ---

  /** @internal A stream frame (open, data, close, window) from the peer. */
  frame(frame: Frame): void {
    if (this.closed) return
    const stream = this.streams.get(frame.flow)
    switch (frame.kind) {
      case Kind.open:
        if (stream) return stream.onAccept(frame)
        return this.incoming(frame)
      case Kind.data:
        if (stream) return stream.onData(frame.payload)
        return this.unknown(frame, 'data')
      case Kind.window:
        if (stream) return stream.onWindow(frame.id)
        return this.unknown(frame, 'window update')
      case Kind.close:
        if (stream) return stream.onClose(frame.id, frame.error)
        // A reset or end for a stream we no longer know: nothing to do, and never answered (no loops).
        this.opts.stats.add('streams.late_frames')
        return
    }
  }

  /** @internal An error frame: claimed when it answers one of our opens (a peer that predates streams). */
  peerError(frame: Frame): boolean {
    const stream = this.streams.get(frame.flow)
    if (!stream || stream.state !== 'opening' || !/not supported/.test(frame.error ?? '')) return false
    this.peerLacksStreams = true
    this.opts.logger.warn(`peer ${this.label} does not support TCP streams (it answered: ${frame.error}); streams are refused on this connection`)
    stream.terminate(this.lacksStreams())
    for (const s of [...this.streams.values()]) if (s.state === 'opening') s.terminate(this.lacksStreams())
    return true
  }

  /** @internal */
  pong(id: number): void {
    if (id === 0 || id !== this.pingId) return
    const sample = Math.max(1, this.opts.clock.now() - this.pingSentAt)
    this.srtt = this.srtt === 0 ? sample : (7 * this.srtt + sample) / 8
    this.pingId = 0
  }

  /** @internal The connection's send buffer drained. */
  drain(): void {
    this.pump()
  }

  // --- MuxLink: what streams ask of us ---

  blocked(): boolean {
    return this.closed || this.control.length > 0 || this.session.conn.bufferedAmount >= CONN_STREAM_HIGH
  }

  sendData(frame: Frame): void {
    this.session.send(frame)
  }

  sendControl(frame: Frame): void {
    if (this.closed) return
    if (this.control.length > 0 || this.session.conn.bufferedAmount >= MAX_BUFFERED) {
      // A few per stream at most while the peer reads; past that it has stopped reading and keeps
      // sending: the connection goes (its streams with it) rather than this queue growing.
      if (this.control.length >= 4 * this.maxStreams + 64) {
        this.opts.drops.drop('stream_control_overflow', `peer ${this.label} stopped reading but keeps opening and resetting streams: connection closed`)
        this.session.close(new RelayError('E_PEER_NOT_READING', `peer ${this.label} stopped reading (${this.control.length} stream control frames waiting)`))
        return
      }
      this.control.push(frame)
      this.startPoll()
      return
    }
    this.session.send(frame)
  }

  wantRoom(stream: TunnelStream): void {
    if (this.closed || stream.inRoomQueue) return
    stream.inRoomQueue = true
    this.room.add(stream)
    this.startPoll()
  }

  finished(stream: TunnelStream, err: StreamError | undefined, sentReset: boolean): void {
    if (this.streams.get(stream.id) === stream) this.streams.delete(stream.id)
    if (this.counted.delete(stream)) this.opts.halfStreams!.give()
    if (stream.inRoomQueue) {
      this.room.delete(stream)
      stream.inRoomQueue = false
    }
    if (sentReset && err !== undefined) {
      this.recentResets.add(stream.id)
      if (this.recentResets.size > RECENT_RESETS) this.recentResets.delete(this.recentResets.values().next().value!)
    }
    if (err !== undefined) this.opts.stats.add(`streams.reset.${err.streamCode}`)
    else this.opts.stats.add('streams.closed')
  }

  /** Measures the round trip (a ping) when streams are in use and the last sample is a second old; datagram-only connections never see these pings. */
  granted(): void {
    if (this.pingId === 0 && this.opts.clock.now() - this.lastRtt >= RTT_EVERY_MS) this.measureRtt()
  }

  // --- internals ---

  private incoming(frame: Frame): void {
    const id = frame.flow
    // A peer that floods opens and reads nothing must not fill our send buffer with refusals:
    // past the datagram limit they are dropped (counted; the peer learns nothing it could use).
    const refuse = (code: StreamError): void => {
      if (this.session.conn.bufferedAmount >= MAX_BUFFERED) return this.opts.drops.drop('stream_refusal_unsent', `peer ${this.label} is not reading: refusal of stream ${id} not sent`)
      this.session.send({ flow: id, id: codeValue(code), kind: Kind.close, payload: EMPTY, error: code.message })
    }
    if (id === 0 || (id & 1) === (this.nextId & 1)) {
      this.opts.drops.drop('stream_bad_id', `peer ${this.label} opened stream ${id}, an id this side allocates`)
      if (id !== 0) refuse(new StreamError('protocol', `stream id ${id} is for this side (${this.opts.side}) to allocate`))
      return
    }
    if (!this.opts.accept) {
      this.opts.stats.add('streams.refused.unsupported')
      return refuse(new StreamError('unsupported', 'this half opens streams (its tunnel is --out); it does not accept them'))
    }
    if (this.streams.size >= this.maxStreams) {
      this.opts.drops.drop('stream_limit', `peer ${this.label} opened stream ${id} past the limit of ${this.maxStreams} streams on one connection: refused`)
      return refuse(new StreamError('too_many', `the tunnel connection already carries ${this.maxStreams} streams`))
    }
    const half = this.opts.halfStreams
    if (half && !half.take()) {
      this.opts.drops.drop('stream_limit', `peer ${this.label} opened stream ${id} past the half's limit of ${half.max} streams (--max-tcp-streams): refused`)
      return refuse(new StreamError('too_many', `the half already carries ${half.max} streams (--max-tcp-streams)`))
    }
    const stream = new TunnelStream(this, id, 'pending', this.window(), { dst: frame.dst, src: frame.src, credit: frame.id })
    if (half) this.counted.add(stream)
    this.streams.set(id, stream)
    this.opts.stats.max('streams.active_peak', this.streams.size)
    this.opts.stats.add('streams.incoming')
    this.granted()
    this.opts.accept(stream)
  }

  private unknown(frame: Frame, what: string): void {
    if (this.recentResets.has(frame.flow) || frame.kind === Kind.window) {
      // In flight when we reset the stream, or a credit grant crossing our end: expected.
      this.opts.stats.add('streams.late_frames')
      return
    }
    this.opts.drops.drop('stream_unknown', `peer ${this.label} sent ${what} for stream ${frame.flow}, which is not open`)
  }

  /** WindowEnv: the smoothed round trip, for the streams' window growth. */
  get rtt(): number {
    return this.srtt
  }

  private window(): ReceiveWindow {
    return new ReceiveWindow(this)
  }

  private allocateId(): number {
    let id = this.nextId
    while (this.streams.has(id) || id === 0) id = (id + 2) >>> 0
    this.nextId = (id + 2) >>> 0
    if (this.nextId === 0) this.nextId = this.opts.side === 'client' ? 1 : 2
    return id
  }

  private lacksStreams(): StreamError {
    return new StreamError('unsupported', `the other half (${this.label}) does not support TCP streams: upgrade it`)
  }

  /** Control frames first, then one data frame per waiting stream in turn, while there is room. */
  private pump(): void {
    if (this.closed) return
    while (this.control.length > 0 && this.session.conn.bufferedAmount < MAX_BUFFERED) {
      this.session.send(this.control.shift()!)
    }
    while (this.room.size > 0 && !this.blocked()) {
      for (const stream of this.room) {
        this.room.delete(stream)
        stream.inRoomQueue = false
        if (stream.sendOne()) {
          stream.inRoomQueue = true
          this.room.add(stream)
        }
        if (this.blocked()) break
      }
    }
    if (this.control.length === 0 && this.room.size === 0) this.stopPoll()
    else this.startPoll()
  }

  private startPoll(): void {
    if (this.poll !== undefined || this.closed) return
    this.poll = this.opts.clock.setTimer(() => {
      this.poll = undefined
      this.pump()
    }, DRAIN_POLL_MS)
  }

  private stopPoll(): void {
    if (this.poll === undefined) return
    this.opts.clock.clearTimer(this.poll)
    this.poll = undefined
  }

  private measureRtt(): void {
    if (this.closed) return
    const now = this.opts.clock.now()
    this.lastRtt = now
    this.pingSentAt = now
    this.pingId = ((now & 0x3fff_ffff) | 1) >>> 0
    this.session.send({ flow: 0, id: this.pingId, kind: Kind.ping, payload: EMPTY })
  }
}

function codeValue(err: StreamError): number {
  return StreamCode[err.streamCode]
}
