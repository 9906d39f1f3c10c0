/**
 * The connection side of a stream tunnel (tcp, tls, ws, grpc, zmq, xmpp): a server that listens and
 * accepts, or a client that dials and redials with backoff, each turning connections into sessions
 * for its owner.
 */
import type { GateTicket, ResolvedAddress, SocketAddress, StreamConn, StreamListener } from '../ports/runtime.ts'
import { Backoff, sleepUnlessAborted } from '../base/backoff.ts'
import type { HalfContext } from '../core/connector.ts'
import { RelayError } from '../base/errors.ts'
import { Kind, type KindValue } from '../protocol/frame.ts'
import { isAuto, Session, type AutoWire } from '../core/tunnel/session.ts'
import type { Wire } from '../protocol/wire.ts'
import { bindAll } from '../net/bind-all.ts'
import type { Endpoint } from '../net/endpoint.ts'
import { resolveListen } from '../net/resolve.ts'
import { formatAddress } from '../base/address.ts'
import { tunnelBound, unbound } from '../core/tunnel/bounded-conn.ts'
import { warnIfOpen } from './open-server.ts'
import { peerKey } from '../base/limits.ts'
import type { WarningLimiter } from '../base/warning-limiter.ts'
import { describeWire, openServerNote, streamWire } from './stream-wire.ts'

/** How a stream tunnel (tcp, tls, ws, grpc, zmq, xmpp) opens connections. */
export interface StreamTransport {
  /** Name for logs: `tcp/server`, `tls/client`. */
  name: string
  /**
   * Servers: listens on one resolved address (bindAll calls it for each). A transport that admits
   * connections through the half's gate hands on each one's ticket (the session marks it
   * authenticated); WebSocket and gRPC mark theirs at the upgrade or the call.
   */
  listen?(addr: ResolvedAddress, port: number, onConnection: (conn: StreamConn, ticket?: GateTicket) => void): Promise<StreamListener>
  /** Clients: one connection to the server the transport was made for, directly or through a proxy (./reach.ts). */
  dial?(signal: AbortSignal): Promise<StreamConn>
  /** The transport's own wire (ws, grpc: negotiated, no hello); default: the codec's stream wire. */
  wire?: Wire
  /** STARTTLS (tcp with `,starttls`): TLS on a connection whose plain hello agreed to it. */
  starttls?(conn: StreamConn): Promise<StreamConn>
}

export interface StreamTunnelOptions {
  text: string
  /** The half's out connector, named in a refused stream's reason (`this half's --out (...) does not carry TCP streams`). */
  outText?: string
  /** Where to listen or dial; absent for a connection accepted elsewhere (acceptedTunnelIn). */
  endpoint?: Endpoint
  /** Packets received from the peer are events (the out side is udp/event). */
  eventsIn?: boolean
  /** Clients: how many connections to keep up (`connections=N`, default 1). */
  connections?: number
}

/** Who takes each session once its handshake is done (the connector composing this side). */
export type Owner = { attach(session: Session): void }

/** Common plumbing: sessions over accepted or dialled connections, handed to an owner. */
abstract class StreamTunnelBase {
  protected readonly ctx: HalfContext
  protected readonly transport: StreamTransport
  protected readonly opts: StreamTunnelOptions
  readonly wire: Wire | AutoWire
  /** Caps what one connection may hold in send buffers (src/core/tunnel/bounded-conn.ts). */
  private readonly bounded: (conn: StreamConn) => StreamConn
  readonly log
  /** Lines a flood of peers would multiply: rate-limited per kind and peer, written with this side's tag. */
  protected readonly limited: Pick<WarningLimiter, 'warn' | 'info'>
  owner!: Owner
  defaultKind: KindValue = Kind.request
  /** Tunnel connections past their handshake, open now. */
  up = 0

  constructor(ctx: HalfContext, transport: StreamTransport, opts: StreamTunnelOptions, role: 'server' | 'client') {
    this.ctx = ctx
    this.transport = transport
    this.opts = opts
    const wire = transport.wire ?? streamWire(ctx, role, opts.text)
    // uhppoted-tunnel framing has no hello to agree on STARTTLS in: a STARTTLS server never falls back to it.
    this.wire = transport.starttls && isAuto(wire) ? { ...wire, uhppoted: undefined } : wire
    this.bounded = tunnelBound(ctx, transport.name)
    this.log = ctx.logger.child(transport.name)
    this.limited = ctx.warnings.through(this.log)
    ctx.stats.gauge('tunnel.connections', () => this.up)
  }

  /** A connection that closed before its handshake completed, counted by why. */
  protected handshakeFailed(err: Error | undefined): void {
    this.ctx.stats.add(`tunnel.handshake_failures.${(err as RelayError | undefined)?.code ?? 'E_CLOSED'}`)
  }

  protected newSession(conn: StreamConn, side: 'client' | 'server'): Session {
    const { options } = this.ctx
    // Every tunnel connection, whatever carries it, gets the same cap on what waits to be sent.
    return new Session(this.bounded(conn), {
      side,
      wire: this.wire,
      token: options.token,
      helloTimeoutMs: options.helloTimeoutMs,
      heartbeatMs: options.heartbeatMs,
      idleTimeoutMs: options.idleTimeoutMs,
      warnings: this.ctx.warnings,
      defaultKind: this.defaultKind,
      logger: this.log,
      stats: this.ctx.stats,
      deadlines: this.ctx.deadlines,
      // STARTTLS takes over the runtime's socket under the bound; the secure connection is bound again.
      ...(this.transport.starttls ? { starttls: async (c: StreamConn) => this.bounded(await this.transport.starttls!(unbound(c))) } : {}),
    })
  }
}

/** Accepts tunnel connections; each ready session goes to the owner. */
export class ServerSide extends StreamTunnelBase {
  private listeners: StreamListener[] = []
  private readonly sessions = new Set<Session>()

  async listen(): Promise<void> {
    const { text } = this.opts
    const endpoint = this.opts.endpoint!
    const listen = this.transport.listen
    if (!listen) throw new RelayError('E_CONFIG', `${text}: ${this.transport.name} does not listen`)
    const addrs = await resolveListen(this.ctx.runtime, endpoint, text, this.ctx.options.family, (m) => this.log.warn(m))
    this.listeners = await bindAll(text, addrs, endpoint.port, endpoint.hostKind === 'wildcard', (addr, port) =>
      listen(addr, port, (conn, ticket) => this.accept(conn, ticket)), (m) => this.log.warn(m))
    for (const l of this.listeners) this.log.info(`listening on ${formatAddress(l.local)} (${describeWire(this.wire)}${this.transport.starttls ? ', STARTTLS required' : ''})`)
    warnIfOpen(this.ctx, this.log, this.transport.name, this.listeners, openServerNote(this.wire))
  }

  accept(conn: StreamConn, ticket?: GateTicket): void {
    if (this.ctx.signal.aborted) {
      conn.destroy()
      return
    }
    const session = this.newSession(conn, 'server')
    this.sessions.add(session)
    this.ctx.stats.add('tunnel.accepted')
    let up = false
    session.onClose((err) => {
      this.sessions.delete(session)
      if (up) this.up--
      if (this.ctx.signal.aborted) return
      const peer = session.label
      // Connects and disconnects are what a flood of peers causes too: a few lines, then a count.
      if (!err || (err as RelayError).code === 'E_CLOSED') return this.limited.info(`${this.transport.name} disconnected`, peerKey(conn.remote.address), `peer ${peer} disconnected`, { peer })
      // A socket error (a reset from a killed peer) names no peer by itself; say whose it was.
      // Refusals and broken connections are what a flood of peers causes: rate-limited per kind and peer.
      const message = (err as Error).message
      const code = (err as RelayError).code
      this.limited.warn(`${this.transport.name} ${code ?? 'disconnected'}`, peerKey(conn.remote.address), message.includes(peer) ? message : `peer ${peer} disconnected: ${message}`, { peer, code })
    })
    session.ready.then(() => {
      // Closed again before this ran: never counted as up, so never counted down.
      if (!session.isClosed) {
        up = true
        this.up++
      }
      // uhppoted-tunnel framing cannot carry a token: such a peer stays counted as not authenticated.
      if (session.wire!.hello || session.wire!.negotiated) ticket?.authenticated()
      this.limited.info(`${this.transport.name} connected`, peerKey(conn.remote.address), `peer ${session.label} connected`, { peer: session.label })
      this.owner.attach(session)
    }, (err: Error) => {
      // ready rejects only for a connection closed before its handshake completed.
      if (!this.ctx.signal.aborted) this.handshakeFailed(err)
    })
  }

  addresses(): SocketAddress[] {
    return this.listeners.map((l) => l.local)
  }

  async close(): Promise<void> {
    for (const s of this.sessions) s.close()
    await Promise.all(this.listeners.map((l) => l.close()))
  }
}

/** Dials the peer, keeps one session up, reconnects with backoff. */
export class ClientSide extends StreamTunnelBase {
  private readonly sessions = new Set<Session>()
  private readonly stop = new AbortController()
  private loops: Promise<void>[] = []

  /** `connections=N`: N connections, each dialled and kept up on its own (streams spread over them). */
  start(): void {
    const n = this.opts.connections ?? 1
    for (let i = 0; i < n; i++) this.loops.push(this.run())
  }

  private async run(): Promise<void> {
    const { options } = this.ctx
    const backoff = new Backoff({ maxMs: options.maxRetryDelayMs, maxRetries: options.maxRetries })
    const signal = AbortSignal.any([this.ctx.signal, this.stop.signal])
    while (!signal.aborted) {
      let failure: Error | undefined
      let handshaking = false
      try {
        if (!this.transport.dial) throw new RelayError('E_CONFIG', `${this.opts.text}: ${this.transport.name} does not dial`)
        const conn = await this.transport.dial(signal)
        const session = this.newSession(conn, 'client')
        this.sessions.add(session)
        const closed = new Promise<Error | undefined>((resolve) => session.onClose((err) => {
          this.sessions.delete(session)
          resolve(err)
        }))
        handshaking = true
        await session.ready
        handshaking = false
        this.up++
        backoff.reset()
        this.ctx.stats.add('tunnel.connected')
        this.log.info(`connected to ${session.label} (codec ${session.wire!.name})`, { peer: session.label })
        this.owner.attach(session)
        failure = await closed
        this.up--
        if (signal.aborted) break
        this.log.warn(`connection to ${session.label} lost${failure ? `: ${failure.message}` : ''}`, { peer: session.label, code: (failure as RelayError | undefined)?.code })
      } catch (err) {
        failure = err as Error
        if (signal.aborted) break
        if (handshaking) this.handshakeFailed(failure)
        const code = (err as RelayError).code
        // A local bind that cannot reach the remote's family (or zone) is a configuration
        // mistake, not a network hiccup: stop with its own exit code (docs/addresses.md M2, M4, F3).
        // A STARTTLS the server did not agree to (or that something on the path removed) is
        // never retried in the hope of a plain connection: the half stops.
        if (code === 'E_FAMILY_MISMATCH' || code === 'E_ZONE_MISMATCH' || code === 'E_FAMILY_CONFLICT' || code === 'E_NO_SUCH_INTERFACE' || code === 'E_STARTTLS_REFUSED') {
          this.ctx.fatal(failure)
          break
        }
        // A refusal (codec, token, version, a proxy's credentials or rules) will not fix itself by retrying fast: say it loudly.
        const level = code === 'E_CODEC_MISMATCH' || code === 'E_AUTH' || code === 'E_HELLO_REFUSED' || code === 'E_PROXY_AUTH' || code === 'E_PROXY_REFUSED' ? 'error' : 'warn'
        this.log[level](failure.message)
      }
      if (signal.aborted) break
      const delay = backoff.next()
      if (delay === undefined) {
        this.ctx.fatal(new RelayError('E_CONNECT', `${this.opts.text}: giving up after ${backoff.attempts} retries (${failure?.message ?? 'connection lost'})`, { cause: failure }))
        break
      }
      this.ctx.stats.add('tunnel.retries')
      this.log.info(`retrying in ${delay} ms`)
      if (!(await sleepUnlessAborted(delay, signal))) break
    }
  }

  async close(): Promise<void> {
    this.stop.abort()
    for (const s of this.sessions) s.close()
    await Promise.all(this.loops)
  }
}


export function sideFor(ctx: HalfContext, transport: StreamTransport, opts: StreamTunnelOptions, role: 'server' | 'client') {
  return role === 'server' ? new ServerSide(ctx, transport, opts, 'server') : new ClientSide(ctx, transport, opts, 'client')
}

export async function startSide(side: ServerSide | ClientSide): Promise<void> {
  if (side instanceof ServerSide) await side.listen()
  else side.start()
}
