/**
 * One tunnel connection as a state machine (docs/architecture.md, docs/wire-protocol.md):
 *
 *   hello ──(hello exchanged, or the transport negotiated)──▶ open ──(close, error, dead peer)──▶ closing ──▶ closed
 *     │  ▲
 *     │  └─(TLS up: the usual hello, inside TLS)─┐
 *     └──(plain hello agreed on STARTTLS)──▶ upgrading
 *     └──────────────────────(timeout, refusal, bad bytes, connection lost, TLS failed)──────────▶ closing / closed
 *
 * - hello: the edgerelay hello (tcp, tls) is exchanged; a server with `auto` first decides from the
 *   peer's first bytes whether it speaks the hello (any codec) or uhppoted-tunnel framing. With
 *   STARTTLS the first, plain hello carries the offer and no token, and the server's accept the
 *   agreement; anything else (no offer, no agreement, bytes after it) ends the connection: never
 *   plain text instead.
 * - upgrading: TLS starts on the same connection; nothing else is read or written until it is up.
 * - open: frames flow to the owner (upstream or downstream); ping/pong and error frames are
 *   handled here; a quiet edgerelay peer is pinged and, silent for three heartbeats, dropped.
 * - closing: the owners have been told; the connection gets a short grace to flush, then is cut.
 * - closed: the connection is gone.
 *
 * Every deadline (hello limit, heartbeat check, close grace) is the session's one entry in the
 * half's Deadlines service: one timer per half, not several per connection.
 */
import type { Clock } from '../../base/clock.ts'
import type { Deadline, Deadlines } from '../../base/deadlines.ts'
import { RelayError } from '../../base/errors.ts'
import { ByteQueue } from '../../base/byte-queue.ts'
import type { Logger } from '../../base/logger.ts'
import type { WarningLimiter } from '../../base/warning-limiter.ts'
import type { Stats } from '../../base/stats.ts'
import { formatAddress } from '../../base/address.ts'
import type { StreamConn, StreamHandlers } from '../../ports/runtime.ts'
import { Kind, KIND_NAMES, type Frame, type KindValue } from '../../protocol/frame.ts'
import { encodeClientHello, encodeServerReply, FLAG_STARTTLS, parseClientHello, parseServerReply } from '../../protocol/hello.ts'
import type { FrameReader, Wire } from '../../protocol/wire.ts'
import { detectFraming, helloTimeoutError, judgeClientHello, judgeServerReply, sniffMistakenHello } from './hello-rules.ts'

export type SessionState = 'hello' | 'upgrading' | 'open' | 'closing' | 'closed'

/** A server that serves edgerelay hellos of any codec and uhppoted-tunnel framing on one port. */
export interface AutoWire {
  /** The stream wire for a codec named in a hello; undefined for a codec this half lacks. */
  wireFor(codec: string): Wire | undefined
  /**
   * uhppoted-tunnel's framing, for a peer whose first bytes are not the hello; absent when the half
   * requires a token, which that framing cannot carry (such peers are then refused).
   */
  uhppoted: Wire | undefined
  /** A peer silent this long is taken for uhppoted-tunnel (its clients wait for requests; an edgerelay client sends its hello at once). */
  silenceMs: number
}

export interface SessionOptions {
  /** 'client' dialled the connection and sends the hello; 'server' accepted it. */
  side: 'client' | 'server'
  /** The wire, or for a server, `auto`: decided per connection from the first bytes. */
  wire: Wire | AutoWire
  token?: string
  helloTimeoutMs: number
  /** Ping interval on a quiet connection (edgerelay wires only); 0 disables. */
  heartbeatMs: number
  /** Server side, a wire without heartbeats (uhppoted framing): closed after receiving nothing this long; 0 or absent: never. */
  idleTimeoutMs?: number
  /** Warnings a peer can cause (its error frames), rate-limited per peer; absent: logged as they come. */
  warnings?: WarningLimiter
  /** Kind given to frames of a wire that carries no kind (uhppoted). */
  defaultKind: KindValue
  logger: Logger
  stats: Stats
  /** The half's deadline service (one timer for every session). */
  deadlines: Deadlines
  /**
   * STARTTLS (tcp with `,starttls`): runs TLS on the connection and resolves with the TLS one. The
   * client offers it, the server requires it; the usual hello then runs inside TLS.
   */
  starttls?: (conn: StreamConn) => Promise<StreamConn>
}

const ignore = (): void => {}
const EMPTY = new Uint8Array(0)
/** Grace for a closing connection to flush: after close() (our decision) and after a failure. */
const CLOSE_GRACE_MS = 2000
const FAIL_GRACE_MS = 500

/** The conn's handlers for a session: a small object instead of two closures per connection. */
class SessionHandlers implements StreamHandlers {
  private readonly session: Session
  constructor(session: Session) {
    this.session = session
  }
  onData(chunk: Uint8Array): void {
    this.session.received(chunk)
  }
  onClose(err?: Error): void {
    this.session.connClosed(err)
  }
  onDrain(): void {
    this.session.streams?.drain()
  }
}

/** What a session hands to the stream multiplexer of its connection (src/core/streams/mux.ts). */
export interface SessionStreams {
  /** An open, data, close or window frame. */
  frame(frame: Frame): void
  /** An error frame with a flow id; true when it answered a stream (then it is not logged here). */
  peerError(frame: Frame): boolean
  /** A pong (the multiplexer measures round trips with its own ping ids). */
  pong(id: number): void
  /** The connection's send buffer drained. */
  drain(): void
}

export function isAuto(wire: Wire | AutoWire): wire is AutoWire {
  return 'silenceMs' in wire
}

export class Session implements Deadline {
  /** The connection; with STARTTLS, the TLS one once it is up. */
  conn: StreamConn
  readonly label: string
  /** Where the connection is in its life (see the file header). */
  state: SessionState = 'hello'
  /** The wire in use; with `auto`, the one chosen once the first bytes arrived (undefined until then). */
  wire: Wire | undefined
  readonly ready: Promise<void>
  /** @internal Deadlines bookkeeping. */
  deadlineAt = 0
  /** @internal Deadlines bookkeeping. */
  deadlineSlot = -1

  private readonly opts: SessionOptions
  private readonly clock: Clock
  private readonly started: number
  private reader: FrameReader | undefined
  /** Bytes of the hello (or of the first bytes a uhppoted server checks) not yet consumed. */
  private pending: ByteQueue | undefined
  /** uhppoted server: the first bytes are checked for an edgerelay hello sent by mistake. */
  private sniffing = false
  /** auto: nothing decided yet. */
  private detecting = false
  /** STARTTLS: the plain hello is still to come (offer and agreement), then the one inside TLS. */
  private plainHello: boolean
  private lastReceived: number
  private closeHandlers: ((err?: Error) => void)[] = []
  private frameHandler: ((frame: Frame) => void) | undefined
  /** The connection's streams, when its owner carries them (set before onFrame). */
  streams: SessionStreams | undefined
  /**
   * Builds `streams` when the first stream frame arrives, so an idle connection that never
   * carries a stream costs no multiplexer (a listening half may hold thousands of them).
   */
  streamsOnDemand: (() => SessionStreams) | undefined
  /** Error frames from the peer go here when set (the browser client); otherwise they are logged. */
  onPeerError: ((message: string, frame: Frame) => void) | undefined
  /** Frames that arrived with the hello, before the owner attached (payloads copied). */
  private early: Frame[] | undefined
  private resolveReady!: () => void
  private rejectReady!: (err: Error) => void

  constructor(conn: StreamConn, opts: SessionOptions) {
    this.conn = conn
    this.opts = opts
    this.clock = opts.deadlines.clock
    this.started = this.lastReceived = this.clock.now()
    this.label = formatAddress(conn.remote)
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve
      this.rejectReady = reject
    })
    // Owners attach after `ready`; an early failure must not become an unhandled rejection.
    this.ready.catch(ignore)
    this.plainHello = opts.starttls !== undefined
    conn.setHandlers(new SessionHandlers(this))
    const wire = opts.wire
    if (this.plainHello && (!isAuto(wire) && (wire.negotiated || !wire.hello))) throw new RelayError('E_CONFIG', 'STARTTLS is agreed in the edgerelay hello: this wire has none')
    if (isAuto(wire)) {
      if (opts.side !== 'server') throw new RelayError('E_CONFIG', 'codec auto is for listening tunnels: a dialling half must name its codec')
      this.detecting = true
      this.pending = new ByteQueue()
      this.schedule(this.started + Math.min(wire.silenceMs, opts.helloTimeoutMs))
    } else if (wire.negotiated) {
      // WebSocket, gRPC: the transport's own handshake already agreed on everything.
      this.open(wire)
    } else if (!wire.hello) {
      // uhppoted framing has no hello: open at once; a server watches the first bytes for an
      // edgerelay hello so it can refuse it with a reason instead of misreading it as frames.
      if (opts.side === 'server') this.startSniffing()
      this.open(wire)
    } else {
      this.wire = wire
      this.pending = new ByteQueue()
      // With STARTTLS the token waits for the hello inside TLS.
      if (opts.side === 'client') conn.write(this.plainHello ? encodeClientHello({ codec: wire.name, flags: FLAG_STARTTLS }) : encodeClientHello({ codec: wire.name, token: opts.token }))
      this.schedule(this.started + opts.helloTimeoutMs)
    }
  }

  /** The owner's frame handler; frames that arrived before it was set are delivered now. */
  set onFrame(handler: (frame: Frame) => void) {
    this.frameHandler = handler
    const early = this.early
    this.early = undefined
    if (early) for (const f of early) this.dispatch(f)
  }

  /** Runs `fn` once when the session ends (at once if it has). */
  onClose(fn: (err?: Error) => void): void {
    if (this.isClosed) fn()
    // concat: an exact-size array (owners add one or two); push would grow it to 17 slots.
    else this.closeHandlers = this.closeHandlers.concat(fn)
  }

  /** True from closing on: the owners have been told, nothing more is sent or delivered. */
  get isClosed(): boolean {
    return this.state === 'closing' || this.state === 'closed'
  }

  send(frame: Frame): boolean {
    if (this.state !== 'open') return false
    return this.conn.write(this.wire!.encode(frame))
  }

  /** Ends the session: a clean end, or with `err` a reset. */
  close(err?: Error): void {
    if (this.isClosed) return
    // Closing first: a runtime may report the connection closed from inside end() or destroy()
    // (Deno), and the owners must hear this session's reason, not a bare disconnect.
    this.enterClosing(CLOSE_GRACE_MS, err)
    // end() may leave a dead peer half-open: the grace deadline cuts it regardless.
    if (err) this.conn.destroy(err)
    else this.conn.end()
  }

  /** @internal Deadline: the one timer of this session fired. */
  onDeadline(now: number): void {
    switch (this.state) {
      case 'upgrading':
        this.fail(new RelayError('E_STARTTLS_HANDSHAKE', `STARTTLS with ${this.label}: TLS was not up within the hello limit of ${this.opts.helloTimeoutMs} ms`))
        return
      case 'hello':
        const uhppoted = (this.opts.wire as AutoWire).uhppoted
        if (this.detecting && this.pending!.length === 0 && uhppoted) {
          // Silent peer: a uhppoted-tunnel client waits for requests; serve it with its framing.
          this.detecting = false
          this.pending = undefined
          this.startSniffing()
          this.open(uhppoted)
          return
        }
        if (this.detecting && this.clock.now() < this.started + this.opts.helloTimeoutMs) {
          // Without uhppoted framing a silent peer gets the whole hello limit.
          this.schedule(this.started + this.opts.helloTimeoutMs)
          return
        }
        this.fail(helloTimeoutError(this.opts.side, this.label, this.opts.helloTimeoutMs))
        return
      case 'open':
        this.checkHeartbeat(now)
        return
      case 'closing':
        this.conn.destroy()
        this.state = 'closed'
        return
    }
  }

  /** @internal The conn's data (through SessionHandlers). */
  received(chunk: Uint8Array): void {
    if (this.state === 'closing' || this.state === 'closed' || this.state === 'upgrading') return
    this.lastReceived = this.clock.now()
    try {
      if (this.state === 'hello') return this.hello(chunk)
      if (this.sniffing && this.sniff(chunk)) return
      this.reader!.push(chunk)
      if (this.wire!.messageFramed && this.reader!.buffered > 0) {
        throw new RelayError('E_PARTIAL_FRAME', 'a message ended inside a frame (each message must carry whole length-prefixed frames)')
      }
    } catch (err) {
      this.protocolError(err as Error)
    }
  }

  /** @internal The conn is gone (through SessionHandlers). */
  connClosed(err?: Error): void {
    if (this.state === 'closed') return
    const wasClosing = this.state === 'closing'
    const inHello = this.state === 'hello'
    this.state = 'closed'
    this.opts.deadlines.clear(this)
    if (!wasClosing) this.finish(err ?? (inHello ? new RelayError('E_HELLO_CLOSED', `connection to ${this.label} closed during the hello`) : undefined))
  }

  // --- hello -------------------------------------------------------------------------------

  private hello(chunk: Uint8Array): void {
    const buf = this.pending!
    buf.append(chunk)
    const data = buf.view()
    if (this.detecting) {
      const framing = detectFraming(data, (this.opts.wire as AutoWire).uhppoted)
      if (framing === 'wait') return
      this.detecting = false
      if (framing === 'uhppoted') {
        // uhppoted-tunnel framing from the first byte.
        this.pending = undefined
        this.open((this.opts.wire as AutoWire).uhppoted!)
        this.reader!.push(data.slice())
        return
      }
      // An edgerelay hello: from now on the usual hello limit, counted from the connection's start.
      this.schedule(this.started + this.opts.helloTimeoutMs)
    }
    if (this.opts.side === 'server') this.serverHello(data)
    else this.clientHello(data)
  }

  private serverHello(data: Uint8Array): void {
    const parsed = parseClientHello(data)
    if (!parsed) return
    const { hello, length } = parsed
    const auto = isAuto(this.opts.wire) ? this.opts.wire : undefined
    const decision = judgeClientHello(hello, {
      plainHello: this.plainHello,
      wireFor: (codec) => (auto ? auto.wireFor(codec) : this.wire),
      speaks: auto ? 'every edgerelay codec this half has and uhppoted-tunnel framing' : `'${this.wire!.name}'`,
      token: this.opts.token,
    })
    if ('refuse' in decision) {
      if (decision.starttlsMissing) this.opts.stats.add('tunnel.starttls_missing')
      return this.refuse(decision.refuse, decision.code)
    }
    if (decision.starttls) {
      // The agreement: TLS starts with the next byte, so nothing may follow the hello.
      if (data.length > length) throw new RelayError('E_STARTTLS_PROTOCOL', 'bytes after the STARTTLS offer, before TLS started')
      this.conn.write(encodeServerReply(true, '', FLAG_STARTTLS))
      return this.upgrade()
    }
    this.conn.write(encodeServerReply(true))
    this.pending = undefined
    this.open(decision.accept)
    if (data.length > length) this.reader!.push(data.slice(length))
  }

  private clientHello(data: Uint8Array): void {
    const parsed = parseServerReply(data)
    if (!parsed) return
    let next: 'open' | 'upgrade'
    try {
      next = judgeServerReply(parsed.reply, this.plainHello, this.label)
    } catch (err) {
      // A refusal or a missing agreement stops this side: failed, not a protocol error.
      if ((err as RelayError).code === 'E_STARTTLS_PROTOCOL') throw err
      return this.fail(err as RelayError)
    }
    if (next === 'upgrade') {
      if (data.length > parsed.length) throw new RelayError('E_STARTTLS_PROTOCOL', 'bytes after the STARTTLS agreement, before TLS started')
      return this.upgrade()
    }
    this.pending = undefined
    this.open(this.wire!)
    if (data.length > parsed.length) this.reader!.push(data.slice(parsed.length))
  }

  // --- upgrading (STARTTLS) ------------------------------------------------------------------

  /** Starts TLS on the connection; once it is up, the usual hello runs inside it. */
  private upgrade(): void {
    this.state = 'upgrading'
    this.pending = undefined
    this.plainHello = false
    const plain = this.conn
    this.opts.starttls!(plain).then((secure) => {
      if (this.state !== 'upgrading') return secure.destroy()
      this.conn = secure
      this.state = 'hello'
      this.pending = new ByteQueue()
      this.opts.stats.add('tunnel.starttls')
      secure.setHandlers(new SessionHandlers(this))
      if (this.opts.side === 'client') secure.write(encodeClientHello({ codec: this.wire!.name, token: this.opts.token }))
    }, (err: Error) => {
      if (this.state !== 'upgrading') return
      this.opts.stats.add('tunnel.starttls_failed')
      this.fail(new RelayError('E_STARTTLS_HANDSHAKE', `STARTTLS with ${this.label}: ${err.message}`, { cause: err }))
    })
  }

  private refuse(reason: string, code = 'E_HELLO_REFUSED'): void {
    this.opts.stats.add('tunnel.refused')
    this.conn.write(encodeServerReply(false, reason))
    this.fail(new RelayError(code, `refused peer ${this.label}: ${reason}`))
  }

  // --- uhppoted server: an edgerelay client by mistake? --------------------------------------

  private startSniffing(): void {
    this.sniffing = true
    this.pending = new ByteQueue()
  }

  /** True while the first bytes are held back to be checked. */
  private sniff(chunk: Uint8Array): boolean {
    const buf = this.pending!
    buf.append(chunk)
    const data = buf.view()
    const seen = sniffMistakenHello(data)
    if (seen === 'wait') return true
    this.sniffing = false
    this.pending = undefined
    if (seen === 'frames') this.reader!.push(data.slice())
    else this.refuse(seen.refuse, 'E_CODEC_MISMATCH')
    return true
  }

  // --- open ----------------------------------------------------------------------------------

  private open(wire: Wire): void {
    this.wire = wire
    this.state = 'open'
    this.reader = wire.reader((frame) => this.dispatch(frame), this.opts.defaultKind)
    if (this.heartbeats) this.schedule(this.clock.now() + this.heartbeatCheckMs())
    else if (this.idleLimit > 0) this.schedule(this.lastReceived + this.idleLimit)
    else this.opts.deadlines.clear(this)
    this.resolveReady()
  }

  private dispatch(frame: Frame): void {
    switch (frame.kind) {
      case Kind.ping:
        this.send({ flow: 0, id: frame.id, kind: Kind.pong, payload: EMPTY })
        return
      case Kind.pong:
        this.streams?.pong(frame.id)
        return
      case Kind.error:
        this.opts.stats.add('tunnel.error_frames')
        if (frame.flow !== 0 && this.streams?.peerError(frame)) return
        if (this.onPeerError) return this.onPeerError(frame.error ?? '(no text)', frame)
        const said = `peer ${this.label} reported an error${frame.flow ? ` on flow ${frame.flow}` : ''}: ${(frame.error ?? '(no text)').slice(0, 500)}`
        if (this.opts.warnings) this.opts.warnings.warn('peer error frame', this.conn.remote.address, said, { peer: this.label })
        else this.opts.logger.warn(said, { peer: this.label })
        return
      case Kind.request:
      case Kind.reply:
      case Kind.event:
        if (this.frameHandler) this.frameHandler(frame)
        else (this.early ??= []).push({ ...frame, payload: frame.payload.slice() })
        return
      case Kind.open:
      case Kind.data:
      case Kind.close:
      case Kind.window:
        const streams = this.streams ?? this.streamsOnDemand?.()
        if (streams) return streams.frame(frame)
        // Before the owner attached (frames that came with the hello): held like the datagrams.
        if (!this.frameHandler) return void (this.early ??= []).push({ ...frame, payload: frame.payload.slice() })
      // falls through: this connection carries no streams
      default:
        // open/data/close/window are reserved for stream forwarding: answer instead of hanging up.
        this.opts.stats.add('tunnel.unsupported_frames')
        this.send({ flow: frame.flow, id: frame.id, kind: Kind.error, payload: EMPTY, error: `frame kind '${KIND_NAMES[frame.kind]}' is not supported by this half` })
    }
  }

  /** Checked four times per interval, so a dead peer is declared 3 to 3.25 intervals after its last byte (default 8 s: within 26 s). */
  private heartbeatCheckMs(): number {
    return Math.max(10, this.opts.heartbeatMs / 4)
  }

  /** Whether this connection is pinged (edgerelay wires) or, without heartbeats, closed when idle. */
  private get heartbeats(): boolean {
    return this.wire!.carriesFlows && this.opts.heartbeatMs > 0
  }

  private get idleLimit(): number {
    return this.opts.side === 'server' ? (this.opts.idleTimeoutMs ?? 0) : 0
  }

  private checkHeartbeat(now: number): void {
    const quiet = now - this.lastReceived
    if (!this.heartbeats) {
      if (quiet < this.idleLimit) return this.schedule(this.lastReceived + this.idleLimit)
      this.opts.stats.add('tunnel.idle_closed')
      this.fail(new RelayError('E_IDLE', `peer ${this.label} sent nothing for ${quiet} ms (--idle-timeout; its framing has no heartbeat): connection closed`))
      return
    }
    const every = this.opts.heartbeatMs
    if (quiet >= every * 3) {
      this.opts.stats.add('tunnel.dead_peers')
      this.fail(new RelayError('E_PEER_DEAD', `peer ${this.label} silent for ${quiet} ms (no heartbeat): connection dropped`))
      return
    }
    if (quiet >= every) this.send({ flow: 0, id: 0, kind: Kind.ping, payload: EMPTY })
    this.schedule(now + this.heartbeatCheckMs())
  }

  // --- closing -------------------------------------------------------------------------------

  private protocolError(err: Error): void {
    this.opts.stats.add('tunnel.protocol_errors')
    const code = (err as RelayError).code ?? 'E_PROTOCOL'
    if (this.state === 'open' && this.wire!.carriesFlows) {
      this.send({ flow: 0, id: 0, kind: Kind.error, payload: EMPTY, error: `${code}: ${err.message}; closing the connection` })
    } else if (this.state === 'hello' && this.opts.side === 'server') {
      this.conn.write(encodeServerReply(false, err.message))
    }
    this.fail(new RelayError(code, `peer ${this.label} sent bad data: ${err.message}`, { cause: err }))
  }

  private fail(err: Error): void {
    if (this.isClosed) return
    this.enterClosing(FAIL_GRACE_MS, err)
    // With the reason: a gRPC call then ends with an error status, a WebSocket with 1008 and the text.
    this.conn.end(err)
  }

  private enterClosing(graceMs: number, err?: Error): void {
    this.state = 'closing'
    this.reader = undefined
    this.pending = undefined
    this.schedule(this.clock.now() + graceMs)
    this.finish(err)
  }

  private finish(err?: Error): void {
    this.rejectReady(err ?? new RelayError('E_CLOSED', 'connection closed'))
    const handlers = this.closeHandlers
    this.closeHandlers = []
    for (const fn of handlers) fn(err)
  }

  private schedule(at: number): void {
    this.opts.deadlines.set(this, at)
  }
}
