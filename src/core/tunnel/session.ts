import type { StreamConn, StreamHandlers } from '../../ports/runtime.ts'
import { RelayError } from '../../base/errors.ts'
import { Kind, KIND_NAMES, type Frame, type KindValue } from '../../protocol/frame.ts'
import { unrefTimer } from '../flow.ts'
import type { Logger } from '../../base/logger.ts'
import type { Stats } from '../../base/stats.ts'
import { ByteQueue } from '../../base/byte-queue.ts'
import { encodeClientHello, encodeServerReply, parseClientHello, parseServerReply, sameSecret, startsWithMagic } from '../../protocol/hello.ts'
import type { FrameReader, Wire } from '../../protocol/wire.ts'

const ignore = (): void => {}

/** The conn's handlers for a session: a small object instead of two closures (and their context) per connection. */
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
}

/** The heartbeat timer's callback; the session comes as its argument, no closure per session. */
const heartbeatTick = (session: Session): void => session.checkHeartbeat()

export interface SessionOptions {
  /** 'client' dialled the connection and sends the hello; 'server' accepted it. */
  side: 'client' | 'server'
  wire: Wire
  token?: string
  helloTimeoutMs: number
  /** Ping interval on a quiet connection (edgerelay wires only); 0 disables. */
  heartbeatMs: number
  /** Kind given to frames of a wire that carries no kind (uhppoted). */
  defaultKind: KindValue
  logger: Logger
  stats: Stats
}

/**
 * One tunnel connection: the hello, frame reassembly, heartbeats and error frames. Owners
 * (upstream and downstream) see only ready sessions and the request/reply/event frames.
 */
export class Session {
  readonly conn: StreamConn
  readonly label: string
  private readonly opts: SessionOptions
  private reader: FrameReader | undefined
  private handshakeBuf: ByteQueue | undefined = new ByteQueue()
  private closed = false
  private lastReceived = Date.now()
  private heartbeat: ReturnType<typeof setInterval> | undefined
  private closeHandlers: ((err?: Error) => void)[] = []
  private frameHandler: ((frame: Frame) => void) | undefined
  /** Frames that arrived with the hello, before the owner attached (payloads copied). */
  private early: Frame[] | undefined
  readonly ready: Promise<void>
  private resolveReady!: () => void
  private rejectReady!: (err: Error) => void

  constructor(conn: StreamConn, opts: SessionOptions) {
    this.conn = conn
    this.opts = opts
    this.label = `${conn.remote.family === 6 ? `[${conn.remote.address}]` : conn.remote.address}:${conn.remote.port}`
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve
      this.rejectReady = reject
    })
    // Owners attach after `ready`; an early failure must not become an unhandled rejection.
    this.ready.catch(ignore)
    conn.setHandlers(new SessionHandlers(this))
    if (opts.wire.negotiated) {
      // WebSocket, gRPC: the transport's own handshake already agreed on everything.
      this.handshakeBuf = undefined
      this.becomeReady()
    } else if (!opts.wire.hello) {
      this.handshakeBuf = opts.side === 'server' ? this.handshakeBuf : undefined
      if (opts.side === 'client') this.becomeReady()
      else this.armHelloTimer(true)
    } else {
      if (opts.side === 'client') conn.write(encodeClientHello({ codec: opts.wire.name, token: opts.token }))
      this.armHelloTimer(false)
    }
  }

  /** The owner's frame handler; frames that arrived before it was set are delivered now. */
  set onFrame(handler: (frame: Frame) => void) {
    this.frameHandler = handler
    const early = this.early
    this.early = undefined
    if (early) for (const f of early) handler(f)
  }

  /** Runs `fn` once when the connection is gone. */
  onClose(fn: (err?: Error) => void): void {
    if (this.closed) fn()
    // concat: an exact-size array (owners add one or two); push would grow it to 17 slots.
    else this.closeHandlers = this.closeHandlers.concat(fn)
  }

  get isClosed(): boolean {
    return this.closed
  }

  send(frame: Frame): boolean {
    if (this.closed) return false
    return this.conn.write(this.opts.wire.encode(frame))
  }

  close(err?: Error): void {
    if (this.closed) return
    if (err) this.conn.destroy(err)
    else this.conn.end()
    // end() may leave a dead peer half-open: make sure we are gone soon regardless.
    unrefTimer(setTimeout(() => this.conn.destroy(), 2000))
    this.finish(err)
  }

  private armHelloTimer(uhppotedServer: boolean): void {
    const timer = unrefTimer(setTimeout(() => {
      if (this.closed || this.reader) return
      const what = this.opts.side === 'client' ? 'no hello reply from the server' : 'peer did not complete the hello'
      const hint = this.opts.side === 'client' ? ': the server may run --codec uhppoted or not be edgerelay' : ''
      this.fail(new RelayError('E_HELLO_TIMEOUT', `${what} within ${this.opts.helloTimeoutMs} ms${hint}`))
    }, this.opts.helloTimeoutMs))
    // A uhppoted server has no hello: it is ready at once, and only watches the first bytes for
    // an edgerelay hello so it can refuse it with a reason instead of misreading it as frames.
    if (uhppotedServer) {
      clearTimeout(timer)
      this.becomeReady()
    } else {
      this.ready.then(() => clearTimeout(timer), () => clearTimeout(timer))
    }
  }

  /** @internal The conn's data (through SessionHandlers). */
  received(chunk: Uint8Array): void {
    if (this.closed) return
    this.lastReceived = Date.now()
    try {
      if (this.handshakeBuf) {
        this.handshake(chunk)
        return
      }
      this.reader!.push(chunk)
      if (this.opts.wire.messageFramed && this.reader!.buffered > 0) {
        throw new RelayError('E_PARTIAL_FRAME', 'a message ended inside a frame (each message must carry whole length-prefixed frames)')
      }
    } catch (err) {
      this.protocolError(err as Error)
    }
  }

  private handshake(chunk: Uint8Array): void {
    const buf = this.handshakeBuf!
    buf.append(chunk)
    const data = buf.view()
    if (!this.opts.wire.hello) {
      // uhppoted server: is this an edgerelay client by mistake?
      if (data.length < 6 && startsWithMagic(data)) return
      if (startsWithMagic(data) && data[4] === 1 && data[5] === 1) {
        const parsed = safeParseClientHello(data)
        const asked = parsed ? `'${parsed.hello.codec}'` : 'an edgerelay codec'
        this.refuse(`codec mismatch: this half speaks uhppoted-tunnel framing (--codec uhppoted), the client asked for ${asked}`, 'E_CODEC_MISMATCH')
        return
      }
      this.handshakeBuf = undefined
      this.reader!.push(data.slice())
      return
    }
    if (this.opts.side === 'server') {
      const parsed = parseClientHello(data)
      if (!parsed) return
      const { hello, length } = parsed
      if (hello.codec !== this.opts.wire.name) {
        this.refuse(`codec mismatch: this half speaks '${this.opts.wire.name}', the client asked for '${hello.codec}'`, 'E_CODEC_MISMATCH')
        return
      }
      if (this.opts.token !== undefined && !sameSecret(hello.token, this.opts.token)) {
        this.refuse(hello.token === undefined ? 'a token is required' : 'wrong token', 'E_AUTH')
        return
      }
      this.conn.write(encodeServerReply(true))
      this.handshakeBuf = undefined
      this.becomeReady()
      if (data.length > length) this.reader!.push(data.slice(length))
      return
    }
    const parsed = parseServerReply(data)
    if (!parsed) return
    if (!parsed.reply.accepted) {
      this.fail(new RelayError(refusalCode(parsed.reply.reason), `server refused the tunnel: ${parsed.reply.reason}`))
      return
    }
    this.handshakeBuf = undefined
    this.becomeReady()
    if (data.length > parsed.length) this.reader!.push(data.slice(parsed.length))
  }

  private refuse(reason: string, code = 'E_HELLO_REFUSED'): void {
    this.opts.stats.add('tunnel.refused')
    this.conn.write(encodeServerReply(false, reason))
    this.fail(new RelayError(code, `refused peer ${this.label}: ${reason}`))
  }

  private becomeReady(): void {
    this.reader = this.opts.wire.reader((frame) => this.dispatch(frame), this.opts.defaultKind)
    if (this.opts.wire.carriesFlows && this.opts.heartbeatMs > 0) this.startHeartbeat()
    this.resolveReady()
  }

  private dispatch(frame: Frame): void {
    switch (frame.kind) {
      case Kind.ping:
        this.send({ flow: 0, id: frame.id, kind: Kind.pong, payload: new Uint8Array(0) })
        return
      case Kind.pong:
        return
      case Kind.error:
        this.opts.stats.add('tunnel.error_frames')
        this.opts.logger.warn(`peer ${this.label} reported an error${frame.flow ? ` on flow ${frame.flow}` : ''}: ${frame.error ?? '(no text)'}`)
        return
      case Kind.request:
      case Kind.reply:
      case Kind.event:
        if (this.frameHandler) this.frameHandler(frame)
        else (this.early ??= []).push({ ...frame, payload: frame.payload.slice() })
        return
      default:
        // open/data/close/window are reserved for stream forwarding: answer instead of hanging up.
        this.opts.stats.add('tunnel.unsupported_frames')
        this.send({ flow: frame.flow, id: frame.id, kind: Kind.error, payload: new Uint8Array(0), error: `frame kind '${KIND_NAMES[frame.kind]}' is not supported by this half` })
    }
  }

  private startHeartbeat(): void {
    // Checked four times per interval, so a dead peer is declared between 3 and 3.25 intervals
    // after its last byte (default 8 s: within 26 s).
    this.heartbeat = unrefTimer(setInterval(heartbeatTick, Math.max(10, this.opts.heartbeatMs / 4), this))
  }

  /** @internal One heartbeat check (the interval timer's callback). */
  checkHeartbeat(): void {
    const every = this.opts.heartbeatMs
    const quiet = Date.now() - this.lastReceived
    if (quiet >= every * 3) {
      this.opts.stats.add('tunnel.dead_peers')
      this.fail(new RelayError('E_PEER_DEAD', `peer ${this.label} silent for ${quiet} ms (no heartbeat): connection dropped`))
    } else if (quiet >= every) {
      this.send({ flow: 0, id: 0, kind: Kind.ping, payload: new Uint8Array(0) })
    }
  }

  private protocolError(err: Error): void {
    this.opts.stats.add('tunnel.protocol_errors')
    const code = (err as RelayError).code ?? 'E_PROTOCOL'
    if (this.reader && this.opts.wire.carriesFlows) {
      this.send({ flow: 0, id: 0, kind: Kind.error, payload: new Uint8Array(0), error: `${code}: ${err.message}; closing the connection` })
    } else if (this.opts.side === 'server' && this.opts.wire.hello && !this.reader) {
      this.conn.write(encodeServerReply(false, err.message))
    }
    this.fail(new RelayError(code, `peer ${this.label} sent bad data: ${err.message}`, { cause: err }))
  }

  private fail(err: Error): void {
    if (this.closed) return
    this.conn.end()
    unrefTimer(setTimeout(() => this.conn.destroy(), 500))
    this.finish(err)
  }

  /** @internal The conn is gone (through SessionHandlers). */
  connClosed(err?: Error): void {
    if (this.closed) return
    this.finish(err ?? (this.reader ? undefined : new RelayError('E_HELLO_CLOSED', `connection to ${this.label} closed during the hello`)))
  }

  private finish(err?: Error): void {
    this.closed = true
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat)
    this.rejectReady(err ?? new RelayError('E_CLOSED', 'connection closed'))
    const handlers = this.closeHandlers
    this.closeHandlers = []
    for (const fn of handlers) fn(err)
  }
}

function safeParseClientHello(data: Uint8Array) {
  try {
    return parseClientHello(data)
  } catch {
    return undefined
  }
}

function refusalCode(reason: string): string {
  if (reason.startsWith('codec mismatch')) return 'E_CODEC_MISMATCH'
  if (reason.includes('token')) return 'E_AUTH'
  return 'E_HELLO_REFUSED'
}
