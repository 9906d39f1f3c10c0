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
 * relay.close()
 * ```
 */
import { wireFor } from '../protocol/wire-for.ts'
import { Kind, type Frame } from '../protocol/frame.ts'
import { subprotocolFor, tokenSubprotocol } from '../protocol/negotiate.ts'
import { negotiatedWire, type FrameReader, type Wire } from '../protocol/wire.ts'

export { Kind, type Frame } from '../protocol/frame.ts'

export interface RelayClientOptions {
  /** `protobuf` (default), `avro`, `msgpack` or `uhppoted`: must match the server half's. */
  codec?: string
  /** The server half's shared secret, if it has one. */
  token?: string
  /** Flow id for this client's datagrams (default 1): replies to them come back on it. */
  flow?: number
  /** Send a ping when nothing was sent for this long (default 8000 ms, as the CLI's heartbeat). */
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

export class RelayClient {
  /** The subprotocol the server chose. */
  readonly protocol: string
  /** Datagrams nobody asked for on this flow (late replies, events from the far side). */
  onEvent: ((payload: Uint8Array, frame: Frame) => void) | undefined
  /** Error frames from the server half (unsupported kind, a refused frame). */
  onError: ((message: string, frame: Frame) => void) | undefined
  /** The connection ended (`reason` says why when the server gave one). */
  onClose: ((code: number, reason: string) => void) | undefined

  private readonly ws: WebSocket
  private readonly wire: Wire
  private readonly reader: FrameReader
  private readonly flow: number
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private lastSent = Date.now()
  private heartbeat: ReturnType<typeof setInterval> | undefined
  private isClosed = false

  /** Use connectRelay(); this wraps a WebSocket that is already open. */
  constructor(ws: WebSocket, wire: Wire, opts: RelayClientOptions) {
    this.ws = ws
    this.wire = wire
    this.protocol = ws.protocol
    this.flow = opts.flow ?? 1
    this.reader = wire.reader((f) => this.onFrame(f), Kind.reply)
    ws.binaryType = 'arraybuffer'
    ws.onmessage = (ev: MessageEvent) => {
      if (typeof ev.data === 'string') return
      try {
        this.reader.push(new Uint8Array(ev.data as ArrayBuffer))
      } catch (err) {
        this.onError?.(`bad frame from the server: ${(err as Error).message}`, { flow: 0, id: 0, kind: Kind.error, payload: new Uint8Array(0) })
        ws.close(1002, 'bad frame')
      }
    }
    ws.onclose = (ev: CloseEvent) => this.closed(ev.code, ev.reason)
    const every = opts.heartbeatMs ?? 8000
    if (every > 0) {
      this.heartbeat = setInterval(() => {
        if (Date.now() - this.lastSent >= every) this.sendFrame({ flow: 0, id: 0, kind: Kind.ping, payload: new Uint8Array(0) })
      }, Math.max(10, every / 4))
    }
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

  close(): void {
    if (this.isClosed) return
    this.ws.close(1000, '')
    this.closed(1000, '')
  }

  private takeId(): number {
    const id = this.nextId
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1
    return id
  }

  private sendFrame(frame: Frame): void {
    if (this.isClosed) throw new Error('the relay connection is closed')
    this.lastSent = Date.now()
    this.ws.send(this.wire.encode(frame) as Uint8Array<ArrayBuffer>)
  }

  private onFrame(frame: Frame): void {
    switch (frame.kind) {
      case Kind.ping:
        this.sendFrame({ flow: 0, id: frame.id, kind: Kind.pong, payload: new Uint8Array(0) })
        return
      case Kind.pong:
        return
      case Kind.error:
        this.onError?.(frame.error ?? '(no text)', frame)
        return
      case Kind.reply: {
        // uhppoted framing carries no flow: replies match by request id alone.
        const p = !this.wire.carriesFlows || frame.flow === this.flow ? this.pending.get(frame.id) : undefined
        if (!p) break
        p.replies.push(frame.payload)
        p.onReply?.(frame.payload, frame)
        if (!p.all) p.done()
        return
      }
    }
    if (frame.kind === Kind.reply || frame.kind === Kind.event || frame.kind === Kind.request) this.onEvent?.(frame.payload, frame)
  }

  private closed(code: number, reason: string): void {
    if (this.isClosed) return
    this.isClosed = true
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat)
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
      resolve(new RelayClient(ws, wire, opts))
    }
    // Browsers do not show why an upgrade was refused (status, reason): say what it may be.
    ws.onerror = () => {
      clearTimeout(timer)
      reject(new Error(`WebSocket to ${url} failed: the server refused the upgrade (wrong token or codec?) or cannot be reached`))
    }
  })
}
