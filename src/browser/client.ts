/**
 * @module
 * A browser client for an edgerelay `ws/server` half (the CLI's, a Worker's or a Deno Deploy
 * app's). It speaks exactly what ws/client speaks (docs/wire-protocol.md#websocket): subprotocol
 * `edgerelay.v1.<codec>`, the token as a second `edgerelay.token.<base64url>` entry (browsers cannot
 * set Authorization), and binary messages of `u32 length | codec bytes` frames, with the same
 * codecs. Standard WebSocket and Uint8Array only: no Node built-ins, so it runs in any browser
 * (and in Node 22+, Bun, Deno, workerd).
 *
 * @example
 * ```ts
 * import { connectRelay } from 'edgerelay/browser'
 * const relay = await connectRelay('wss://relay.example.com/tunnel', { token: 'secret' })
 * const replies = await relay.request(new Uint8Array([0x17, 0x94, 0, 0]), { waitMs: 2000, all: true })
 * relay.onEvent = (payload) => console.log('event', payload)
 * // A TCP stream to a host the far half may reach (its --out tcp/dial, within --allow):
 * const { readable, writable } = await relay.openStream('db.internal', 5432)
 * relay.close()
 * ```
 */
import { Deadlines } from '../base/deadlines.ts'
import { createLogger } from '../base/logger.ts'
import { DropReporter, Stats } from '../base/stats.ts'
import { familyOf } from '../base/address.ts'
import { Session } from '../core/tunnel/session.ts'
import { StreamMux } from '../core/streams/mux.ts'
import { openedUnlessAborted } from '../core/streams/pool.ts'
import { StreamError } from '../core/streams/codes.ts'
import { webPair, type WebStreamPair } from '../core/streams/web-pair.ts'
import { webSocketConn, type StandardWebSocket } from '../adapter/web/websocket-conn.ts'
import { wireFor } from '../protocol/wire-for.ts'
import { Kind, type Frame } from '../protocol/frame.ts'
import { subprotocolFor, tokenSubprotocol } from '../protocol/negotiate.ts'
import { negotiatedWire, type Wire } from '../protocol/wire.ts'

export { Kind, type Frame } from '../protocol/frame.ts'
export { StreamError } from '../core/streams/codes.ts'

/** A TCP stream through the relay: WHATWG streams, FIN when the writable closes, the far end's FIN closes the readable. */
export interface RelayStream extends WebStreamPair {
  /** The address the far half connected from, when it said. */
  bound?: string
}

export interface OpenStreamOptions {
  /** Gives up the open (the stream is reset if it is already on its way). */
  signal?: AbortSignal
}

export interface RelayClientOptions {
  /** `protobuf` (default), `avro`, `msgpack` or `uhppoted`: must match the server half's. */
  codec?: string
  /** The server half's shared secret, if it has one. */
  token?: string
  /** Flow id for this client's datagrams (default 1): replies to them come back on it. */
  flow?: number
  /** Ping the server when it has been quiet this long; dropped after three times it (default 8000 ms, as the CLI's heartbeat; 0 = never). */
  heartbeatMs?: number
  /** How long the upgrade may take (default 10000 ms). */
  connectTimeoutMs?: number
  /** A WebSocket constructor, where there is no global one. */
  WebSocket?: typeof WebSocket
}

export interface RequestOptions {
  /** How long to wait for replies (default 5000 ms, the CLI's --udp-timeout). */
  waitMs?: number
  /** Collect every reply until waitMs (broadcasts: several devices answer); default: the first. */
  all?: boolean
  /** Called with each reply the moment it arrives. */
  onReply?(payload: Uint8Array, frame: Frame): void
}

interface Pending {
  replies: Uint8Array[]
  all: boolean
  onReply?: (payload: Uint8Array, frame: Frame) => void
  done(): void
}

/**
 * A connection to a ws/server half. The tunnel connection itself is the same Session every half
 * runs (heartbeats, error frames, frame reassembly); this class adds requests and their replies.
 */
export class RelayClient {
  /** The subprotocol the server chose. */
  readonly protocol: string
  /** Datagrams nobody asked for on this flow (late replies, events from the far side). */
  onEvent: ((payload: Uint8Array, frame: Frame) => void) | undefined
  /** Error frames from the server half (unsupported kind, a refused frame). */
  onError: ((message: string, frame: Frame) => void) | undefined
  /** The connection ended (`reason` says why when the server gave one). */
  onClose: ((code: number, reason: string) => void) | undefined

  private readonly session: Session
  /** TCP streams on this connection (absent with uhppoted framing, which has no flow ids). */
  private readonly streams: StreamMux | undefined
  private readonly carriesFlows: boolean
  private readonly flow: number
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private isClosed = false

  /** Use connectRelay(); this wraps a WebSocket that is already open. */
  constructor(ws: WebSocket, wire: Wire, opts: RelayClientOptions, url = ws.url) {
    this.protocol = ws.protocol
    this.flow = opts.flow ?? 1
    this.carriesFlows = wire.carriesFlows
    const target = new URL(url)
    const host = target.hostname.replace(/^\[|\]$/g, '')
    const remote = { address: host, port: Number(target.port) || (target.protocol === 'wss:' ? 443 : 80), family: familyOf(host) }
    const { conn } = webSocketConn(ws as unknown as StandardWebSocket, remote, { address: '', port: 0, family: remote.family })
    const logger = createLogger('silent')
    const stats = new Stats()
    const deadlines = new Deadlines()
    this.session = new Session(conn, {
      side: 'client',
      wire,
      helloTimeoutMs: opts.connectTimeoutMs ?? 10_000,
      heartbeatMs: opts.heartbeatMs ?? 8000,
      defaultKind: Kind.reply,
      logger,
      stats,
      deadlines,
    })
    // The same multiplexer every half runs; this side only opens streams (the server's opens are refused).
    this.streams = wire.carriesFlows ? new StreamMux(this.session, { side: 'client', clock: deadlines.clock, stats, drops: new DropReporter(stats, () => {}), logger }) : undefined
    this.session.onFrame = (frame) => this.onFrame(frame)
    this.session.onPeerError = (message, frame) => this.onError?.(message, frame)
    let code = 1006
    let reason = ''
    ws.addEventListener('close', (ev: CloseEvent) => {
      code = ev.code
      reason = ev.reason
    })
    this.session.onClose((err) => this.closed(err && code === 1006 ? 1002 : code, reason || (err?.message ?? '')))
  }

  /** Whether the connection is still open. */
  get open(): boolean {
    return !this.isClosed
  }

  /**
   * Sends `payload` as a datagram to the far half's out connector (a UDP device) and resolves
   * with the replies: the first one, or all that came within waitMs with `all`. An empty array
   * means nobody answered in time.
   */
  request(payload: Uint8Array, opts: RequestOptions = {}): Promise<Uint8Array[]> {
    const id = this.takeId()
    return new Promise((resolve, reject) => {
      if (this.isClosed) return reject(new Error('the relay connection is closed'))
      const timer = setTimeout(() => p.done(), opts.waitMs ?? 5000)
      const p: Pending = {
        replies: [],
        all: opts.all ?? false,
        onReply: opts.onReply,
        done: () => {
          clearTimeout(timer)
          this.pending.delete(id)
          resolve(p.replies)
        },
      }
      this.pending.set(id, p)
      this.sendFrame({ flow: this.flow, id, kind: Kind.request, payload })
    })
  }

  /** Sends `payload` one way (an event: no reply is expected). */
  event(payload: Uint8Array): void {
    this.sendFrame({ flow: this.flow, id: this.takeId(), kind: Kind.event, payload })
  }

  /**
   * Opens a TCP stream to `host:port` through the far half (whose --out carries streams: tcp/dial
   * within its --allow, or tcp/connect). Resolves once the far half has connected; rejects with a
   * StreamError whose `streamCode` says why not (`not_allowed`, `refused`, `unreachable`,
   * `timeout`, `unsupported`, ...). The name is resolved by the far half.
   */
  async openStream(host: string, port: number, opts: OpenStreamOptions = {}): Promise<RelayStream> {
    if (this.isClosed) throw new StreamError('shutdown', 'the relay connection is closed')
    if (!this.streams) throw new StreamError('unsupported', `codec ${this.protocol} has no flow ids, so it carries no TCP streams: use protobuf, avro or msgpack`)
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new StreamError('bad_destination', `port ${port} is not 1-65535`)
    if (opts.signal?.aborted) throw new StreamError('reset', 'cancelled before the stream opened')
    const stream = this.streams.open(`${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`, undefined)
    await openedUnlessAborted(stream, opts.signal)
    return { ...webPair(stream), ...(stream.bound !== undefined ? { bound: stream.bound } : {}) }
  }

  close(): void {
    if (this.isClosed) return
    this.session.close()
    this.closed(1000, '')
  }

  private takeId(): number {
    const id = this.nextId
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1
    return id
  }

  private sendFrame(frame: Frame): void {
    if (this.isClosed) throw new Error('the relay connection is closed')
    this.session.send(frame)
  }

  private onFrame(frame: Frame): void {
    if (frame.kind === Kind.reply) {
      // uhppoted framing carries no flow: replies match by request id alone.
      const p = !this.carriesFlows || frame.flow === this.flow ? this.pending.get(frame.id) : undefined
      if (p) {
        // The payload is a view into a buffer the reader reuses: keep a copy.
        const payload = frame.payload.slice()
        p.replies.push(payload)
        p.onReply?.(payload, frame)
        if (!p.all) p.done()
        return
      }
    }
    this.onEvent?.(frame.payload.slice(), frame)
  }

  private closed(code: number, reason: string): void {
    if (this.isClosed) return
    this.isClosed = true
    for (const p of [...this.pending.values()]) p.done()
    this.onClose?.(code, reason)
  }
}

/** Opens a WebSocket to a ws/server half and resolves once the server accepted it. */
export function connectRelay(url: string, opts: RelayClientOptions = {}): Promise<RelayClient> {
  const codec = opts.codec ?? 'protobuf'
  const wire = negotiatedWire(wireFor(codec), { messageFramed: true })
  const protocols = [subprotocolFor(codec), ...(opts.token !== undefined ? [tokenSubprotocol(opts.token)] : [])]
  const WS = opts.WebSocket ?? globalThis.WebSocket
  if (!WS) return Promise.reject(new Error('no WebSocket here: pass options.WebSocket'))
  return new Promise((resolve, reject) => {
    const ws = new WS(url, protocols)
    ws.binaryType = 'arraybuffer'
    const timer = setTimeout(() => {
      ws.close()
      reject(new Error(`no answer from ${url} within ${opts.connectTimeoutMs ?? 10_000} ms`))
    }, opts.connectTimeoutMs ?? 10_000)
    ws.onopen = () => {
      clearTimeout(timer)
      if (ws.protocol !== protocols[0]) {
        ws.close(1002, 'wrong subprotocol')
        reject(new Error(`the server answered with subprotocol '${ws.protocol}', not ${protocols[0]}`))
        return
      }
      resolve(new RelayClient(ws, wire, opts, url))
    }
    // Browsers do not show why an upgrade was refused (status, reason): say what it may be.
    ws.onerror = () => {
      clearTimeout(timer)
      reject(new Error(`WebSocket to ${url} failed: the server refused the upgrade (wrong token or codec?) or cannot be reached`))
    }
  })
}
