import type { GateTicket, ResolvedAddress, SocketAddress, StreamConn, StreamListener } from '../ports/runtime.ts'
import { Backoff, sleepUnlessAborted } from '../base/backoff.ts'
import type { HalfContext, InConnector, OutConnector, OutSide, PacketKind } from '../core/connector.ts'
import { RelayError } from '../base/errors.ts'
import type { Flow } from '../core/flow.ts'
import { Kind, type KindValue } from '../protocol/frame.ts'
import { Downstream } from '../core/tunnel/downstream.ts'
import { isAuto, Session, type AutoWire } from '../core/tunnel/session.ts'
import { Upstream } from '../core/tunnel/upstream.ts'
import type { Wire } from '../protocol/wire.ts'
import { bindAll } from '../net/bind-all.ts'
import type { Endpoint } from '../net/endpoint.ts'
import { resolveListen } from '../net/resolve.ts'
import { wireFor } from '../protocol/wire-for.ts'
import { uhppotedWire } from '../protocol/wire.ts'
import { CODEC_NAMES } from '../protocol/codecs/index.ts'
import { formatAddress } from '../base/address.ts'
import type { ConnectorSpec } from '../net/connector-string.ts'
import { endpointOf, type ConnectorFactory } from '../core/connector.ts'
import { StreamMux } from '../core/streams/mux.ts'
import { StreamPool } from '../core/streams/pool.ts'
import { streamAcceptor } from '../core/streams/serve.ts'
import type { TunnelStream } from '../core/streams/tunnel-stream.ts'
import { tunnelBound } from '../core/tunnel/bounded-conn.ts'
import { warnIfOpen } from './open-server.ts'
import { unbound } from '../core/tunnel/bounded-conn.ts'
import { peerKey } from '../base/limits.ts'
import type { WarningLimiter } from '../base/warning-limiter.ts'
import type { Logger } from '../base/logger.ts'

/** How a stream tunnel (tcp now, tls next) opens connections. */
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

type Owner = { attach(session: Session): void }

/**
 * The TCP streams of a connection (docs/wire-protocol.md#tcp-streams), on every wire that has
 * flow ids (not uhppoted-tunnel framing): `accept` serves the peer's opens (tunnel as --in);
 * without it this side only opens (tunnel as --out).
 */
function attachStreams(ctx: HalfContext, session: Session, side: 'client' | 'server', accept?: (stream: TunnelStream) => void): StreamMux | undefined {
  if (!session.wire!.carriesFlows) return undefined
  return new StreamMux(session, { side, accept, maxStreams: ctx.options.maxStreams, halfStreams: ctx.limits.tcpStreams, clock: ctx.deadlines.clock, stats: ctx.stats, drops: ctx.drops, logger: streamsLogger(ctx) })
}

/** The peer's opens are served by a multiplexer built on the first stream frame (Session.streamsOnDemand). */
function acceptStreams(ctx: HalfContext, session: Session, side: 'client' | 'server', accept: (stream: TunnelStream) => void): void {
  if (!session.wire!.carriesFlows) return
  session.streamsOnDemand = () => attachStreams(ctx, session, side, accept)!
}

const streamLoggers = new WeakMap<HalfContext, Logger>()

/** One 'streams' logger per half, not one per connection. */
function streamsLogger(ctx: HalfContext): Logger {
  let logger = streamLoggers.get(ctx)
  if (!logger) streamLoggers.set(ctx, (logger = ctx.logger.child('streams')))
  return logger
}

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
class ServerSide extends StreamTunnelBase {
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
class ClientSide extends StreamTunnelBase {
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


function sideFor(ctx: HalfContext, transport: StreamTransport, opts: StreamTunnelOptions, role: 'server' | 'client') {
  return role === 'server' ? new ServerSide(ctx, transport, opts, 'server') : new ClientSide(ctx, transport, opts, 'client')
}

async function startSide(side: ServerSide | ClientSide): Promise<void> {
  if (side instanceof ServerSide) await side.listen()
  else side.start()
}

/** A stream tunnel used as --in: requests from the peer go to the local out connector. */
export function streamTunnelIn(ctx: HalfContext, transport: StreamTransport, opts: StreamTunnelOptions, role: 'server' | 'client'): InConnector {
  const side = sideFor(ctx, transport, opts, role)
  let downstream: Downstream | undefined
  return {
    async start(out: OutSide) {
      const packets = new Downstream(ctx, out)
      const accept = streamAcceptor(ctx, out, opts.outText ?? 'the out connector')
      downstream = packets
      side.defaultKind = opts.eventsIn ? Kind.event : Kind.request
      side.owner = {
        attach(session) {
          acceptStreams(ctx, session, role, accept)
          packets.attach(session)
        },
      }
      await startSide(side)
    },
    async close() {
      await side.close()
      downstream?.close()
    },
    addresses: () => (side instanceof ServerSide ? side.addresses() : []),
    // A listening tunnel waits for its peers; a dialling one is ready once connected.
    ready: () => side instanceof ServerSide || side.up > 0,
  }
}

/** A stream tunnel used as --out: local packets go to the peer, replies come back. */
export function streamTunnelOut(ctx: HalfContext, transport: StreamTransport, opts: StreamTunnelOptions, role: 'server' | 'client'): OutConnector {
  const side = sideFor(ctx, transport, opts, role)
  const upstream = new Upstream(ctx)
  const pool = new StreamPool(ctx, opts.text)
  side.defaultKind = Kind.reply
  // With connections=N to one server, datagrams use one of them (the carrier), or every datagram
  // would arrive N times; when it is lost, another live one takes over. Streams use them all.
  const many = (opts.connections ?? 1) > 1
  const live = new Set<Session>()
  let carrier: Session | undefined
  const carry = (session: Session) => {
    carrier = session
    upstream.attach(session)
  }
  side.owner = {
    attach(session) {
      const mux = attachStreams(ctx, session, role)
      if (mux) pool.add(mux)
      if (!many) return upstream.attach(session)
      live.add(session)
      session.onClose(() => {
        live.delete(session)
        if (carrier !== session) return
        carrier = undefined
        const next = live.values().next().value
        if (next) carry(next)
      })
      if (carrier === undefined) carry(session)
      // The others carry streams only: a datagram frame on them is the peer's mistake.
      else session.onFrame = () => ctx.drops.drop('unexpected_kind', `peer ${session.label} sent a datagram frame on a connection that carries streams only`)
    },
  }
  return {
    start: () => startSide(side),
    send: (flow: Flow, kind: PacketKind, id: number, payload: Uint8Array) => upstream.send(flow, kind, id, payload),
    takesDestinations: true,
    openStream: (req) => pool.openStream(req),
    async close() {
      pool.close()
      await side.close()
      upstream.close()
    },
    addresses: () => (side instanceof ServerSide ? side.addresses() : []),
    // Requests can only go on while a peer is connected (meanwhile they queue).
    ready: () => side.up > 0,
  }
}

/**
 * A tunnel connection accepted by someone else (an edge platform's WebSocket, already negotiated
 * and authenticated) used as --in: one server session on `conn`, no listener.
 */
export function acceptedTunnelIn(ctx: HalfContext, name: string, wire: Wire, conn: Promise<StreamConn>, eventsIn = false, outText = 'the out connector'): InConnector {
  const side = new ServerSide(ctx, { name, wire }, { text: name, eventsIn }, 'server')
  let downstream: Downstream | undefined
  return {
    async start(out: OutSide) {
      const packets = new Downstream(ctx, out)
      const accept = streamAcceptor(ctx, out, outText)
      downstream = packets
      side.defaultKind = eventsIn ? Kind.event : Kind.request
      side.owner = {
        attach(session) {
          acceptStreams(ctx, session, 'server', accept)
          packets.attach(session)
        },
      }
      conn.then((c) => side.accept(c), (err) => side.log.warn(`the connection did not open: ${(err as Error).message}`))
    },
    async close() {
      await side.close()
      downstream?.close()
    },
  }
}

const isEventOut = (peer: ConnectorSpec) => peer.kind === 'udp' && peer.role === 'event'

/** The registry entry of a tunnel kind (tcp, tls, ws, grpc) for one role, given how it makes its transport. */
export function tunnelConnector(makeTransport: (ctx: HalfContext, role: 'server' | 'client', spec: ConnectorSpec) => StreamTransport) {
  return (role: 'server' | 'client'): ConnectorFactory => ({
    in: (s, ctx, peer) => streamTunnelIn(ctx, makeTransport(ctx, role, s), { text: s.text, outText: peer.text, endpoint: endpointOf(s), eventsIn: isEventOut(peer), connections: connectionsOf(s, role, peer) }, role),
    out: (s, ctx) => streamTunnelOut(ctx, makeTransport(ctx, role, s), { text: s.text, endpoint: endpointOf(s), connections: connectionsOf(s, role, undefined) }, role),
  })
}

/** Out connectors that carry streams only: behind them a tunnel may keep several connections. */
const STREAM_ONLY_OUT = new Set(['tcp/connect', 'tcp/dial'])

/**
 * `connections=N` (1-64) on a tunnel client. As --out, streams spread over the N connections and
 * datagrams use one. As --in the other half would send every datagram on each of them, so it is
 * refused unless this half's --out carries streams only.
 */
function connectionsOf(spec: ConnectorSpec, role: 'server' | 'client', peerOut: ConnectorSpec | undefined): number | undefined {
  const value = spec.options.connections
  if (value === undefined) return undefined
  if (role !== 'client') throw new RelayError('E_CONFIG', `${spec.text}: connections= is for tunnel clients (the side that dials)`)
  if (!/^[1-9][0-9]?$/.test(value) || Number(value) > 64) throw new RelayError('E_CONFIG', `${spec.text}: connections must be 1-64, not '${value}'`)
  const n = Number(value)
  if (n > 1 && peerOut !== undefined && !STREAM_ONLY_OUT.has(`${peerOut.kind}/${peerOut.role}`)) {
    throw new RelayError('E_CONFIG', `${spec.text}: connections=${n} on a tunnel used as --in works only with a stream --out (tcp/connect, tcp/dial): the other half would send each datagram on every connection`)
  }
  return n
}

/** How long a tcp/tls server with codec auto waits for a first byte before taking a silent peer for uhppoted-tunnel. */
export const AUTO_SILENCE_MS = 1000

/**
 * The wire of a tcp or tls tunnel: the codec given, else `auto` for a server (an edgerelay hello
 * of any codec, or uhppoted-tunnel framing when no token is required) and protobuf for a client.
 */
export function streamWire(ctx: HalfContext, role: 'server' | 'client', text: string): Wire | AutoWire {
  const codec = ctx.options.codec ?? (role === 'server' ? 'auto' : 'protobuf')
  if (codec === 'uhppoted' && ctx.options.token !== undefined) {
    throw new RelayError('E_CONFIG', `${text}: --token cannot be used with --codec uhppoted on tcp or tls: uhppoted-tunnel framing has no hello to carry it, so it would check nothing; authenticate uhppoted-tunnel peers with tls/ and --client-auth, or use an edgerelay codec (ws and grpc carry the token in their headers)`)
  }
  if (codec !== 'auto') return wireFor(codec)
  if (role === 'client') throw new RelayError('E_CONFIG', `${text}: --codec auto is for listening tunnels; a dialling half must name its codec (protobuf, avro, msgpack or uhppoted)`)
  return {
    wireFor: (name) => (name !== 'uhppoted' && (CODEC_NAMES as readonly string[]).includes(name) ? wireFor(name) : undefined),
    uhppoted: ctx.options.token === undefined ? uhppotedWire : undefined,
    silenceMs: AUTO_SILENCE_MS,
  }
}

/** What an open tcp/tls server with codec auto also accepts (for W_OPEN_SERVER). */
function openServerNote(wire: Wire | AutoWire): string {
  return isAuto(wire) && wire.uhppoted ? '; it also takes uhppoted-tunnel framing, which cannot carry a token' : ''
}

function describeWire(wire: Wire | AutoWire): string {
  if (!isAuto(wire)) return `codec ${wire.name}`
  return wire.uhppoted ? 'codec auto: an edgerelay hello of any codec, or uhppoted-tunnel framing' : 'codec auto: an edgerelay hello of any codec (no uhppoted-tunnel framing)'
}
