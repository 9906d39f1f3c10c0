/**
 * What socks5/listen and http-proxy/listen share: the listening sockets, the rule that a listener
 * others can reach needs credentials (or `,noauth`), and each client's handshake, bounded in time
 * (--hello-timeout), in bytes (the front's largest message) and in number (MAX_HANDSHAKES at
 * once), with nothing allocated for a client before it authenticated but one small buffer. Once
 * the front has read a destination, `ProxyClient.open` opens the stream through the --out and
 * joins it to the client (docs/wire-protocol.md#tcp-streams; CONTRIBUTING.md "adding a stream
 * connector"). The protocols themselves are in src/protocol/socks5.ts and http-connect.ts.
 */
import { formatAddress } from '../base/address.ts'
import type { Deadline } from '../base/deadlines.ts'
import { RelayError } from '../base/errors.ts'
import type { Logger } from '../base/logger.ts'
import type { ResolvedAddress, SocketAddress, StreamConn, StreamListener } from '../ports/runtime.ts'
import { endpointOf, type HalfContext, type InConnector, type OutSide } from '../core/connector.ts'
import type { OpenedStream } from '../core/streams/byte-stream.ts'
import { codeOfDialError, isStreamError, StreamError } from '../core/streams/codes.ts'
import { connStream } from '../core/streams/conn-stream.ts'
import { LogBudget } from '../core/streams/log-budget.ts'
import { pipe } from '../core/streams/pipe.ts'
import type { ProxyUsers } from '../core/proxy-users.ts'
import { bindAll } from '../net/bind-all.ts'
import type { ConnectorSpec } from '../net/connector-string.ts'
import { dualStackRequested, resolveListen } from '../net/resolve.ts'

/** Clients in their handshake at once, per listener: more are closed at once (counted). */
export const MAX_HANDSHAKES = 512
/** Stream bytes a client may send behind its request before the stream is open (the rest waits in the kernel). */
const MAX_EARLY = 64 * 1024
/** How long a refused or failed client has to read its answer before its connection is closed. */
const LINGER_MS = 2000

/** One protocol's side of a proxy listener. */
export interface ProxyFront {
  /** `socks5/listen`, for logs and stats (`proxy.socks5.*`). */
  readonly kind: string
  /** Largest handshake message: a client that sends more without completing its handshake is dropped. */
  readonly maxMessage: number
  /** What such a client is told before it is closed (HTTP's 431), if anything. */
  readonly overflowAnswer?: Uint8Array
  /** Reads what the client has sent so far (client.pending()) and answers; called after every arrival. */
  step(client: ProxyClient): void
  /** Ends what the front keeps for the listener (UDP associations). */
  close?(): void
}

export interface ProxyListenerShared {
  ctx: HalfContext
  spec: ConnectorSpec
  out: OutSide
  /** Credentials the listener asks for; undefined: none (loopback, or `,noauth`). */
  users: ProxyUsers | undefined
  log: Logger
  /** Bounds the lines peers can cause (refusals, failed logins). */
  budget: LogBudget
  /** `proxy.socks5` */
  stat: string
}

/** How the stream's outcome is told to the client, in the front's own protocol. */
export interface OpenAnswers {
  opened(o: OpenedStream): Uint8Array
  refused(err: StreamError): Uint8Array
}

function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.')
}

/**
 * A proxy listener as an in connector: binds, checks the auth rule (item 5 of issue 12: a proxy
 * others can reach never runs open by accident), and hands each accepted client to the front.
 */
export function proxyListener(spec: ConnectorSpec, ctx: HalfContext, makeFront: (shared: ProxyListenerShared) => ProxyFront): InConnector {
  const endpoint = endpointOf(spec)
  if (spec.options.noauth !== undefined && spec.options.noauth !== '') throw new RelayError('E_CONFIG', `${spec.text}: noauth takes no value`)
  if (ctx.options.codec === 'uhppoted') throw new RelayError('E_CONFIG', `${spec.text}: TCP streams need frames with flow ids, which uhppoted-tunnel framing (--codec uhppoted) does not have; use --codec protobuf, avro or msgpack on both halves`)
  const kind = `${spec.kind}/${spec.role}`
  const noauth = spec.options.noauth !== undefined
  const users = noauth ? undefined : ctx.options.proxyUsers
  const log = ctx.logger.child(kind)
  const conns = new Set<StreamConn>()
  let listeners: StreamListener[] = []
  let front: ProxyFront | undefined
  let handshaking = 0

  return {
    async start(out) {
      if (!out.openStream) throw new RelayError('E_CONFIG', `${spec.text}: the --out connector does not carry TCP streams; use a tunnel (tcp/client, ws/client, ...) to a far half with --out tcp/dial, or --out tcp/dial here`)
      const addrs = await resolveListen(ctx.runtime, endpoint, spec.text, ctx.options.family, (m) => log.warn(m))
      const open = addrs.filter((a: ResolvedAddress) => !isLoopback(a.address))
      if (!users && !noauth && (open.length > 0 || endpoint.hostKind === 'wildcard')) {
        const where = open.map((a) => a.address).join(', ') || 'every address'
        throw new RelayError('E_CONFIG', `${spec.text} listens on ${where}, where others can reach it, and has no credentials: give --proxy-users <file> (user:password lines), or add ,noauth to run it open on purpose`)
      }
      const shared: ProxyListenerShared = { ctx, spec, out, users, log, budget: new LogBudget(), stat: `proxy.${spec.kind}` }
      const f = makeFront(shared)
      front = f
      const accept = (conn: StreamConn) => {
        if (ctx.signal.aborted) return conn.destroy()
        ctx.stats.add(`${shared.stat}.accepted`)
        if (handshaking >= MAX_HANDSHAKES) {
          ctx.drops.drop('proxy_handshakes', `${kind}: ${formatAddress(conn.remote)} closed at once: ${MAX_HANDSHAKES} clients are in their handshake already`)
          return conn.reset ? conn.reset() : conn.destroy()
        }
        handshaking++
        conns.add(conn)
        new ProxyClient(shared, f, conn, () => {
          handshaking--
        }, () => conns.delete(conn))
      }
      const dualStack = dualStackRequested(endpoint, spec.text)
      listeners = await bindAll(spec.text, addrs, endpoint.port, endpoint.hostKind === 'wildcard', (addr, port) =>
        ctx.runtime.listenTcp({ address: addr.address, port, family: addr.family, ipv6Only: addr.family === 6 && !dualStack, allowHalfOpen: true, onConnection: accept }), (m) => log.warn(m))
      const auth = users ? `${users.size} user${users.size === 1 ? '' : 's'} (--proxy-users)` : noauth ? 'no authentication (,noauth)' : 'no authentication (loopback only)'
      for (const l of listeners) log.info(`listening on ${formatAddress(l.local)}; ${auth}`)
    },
    async close() {
      await Promise.all(listeners.map((l) => l.close()))
      front?.close?.()
      for (const c of conns) c.destroy()
      conns.clear()
    },
    addresses: (): SocketAddress[] => listeners.map((l) => l.local),
  }
}

/**
 * One accepted client until its stream is open (or it is refused). Holds the bytes of its
 * handshake in one buffer that starts small and never grows past the front's largest message.
 */
export class ProxyClient implements Deadline {
  readonly shared: ProxyListenerShared
  readonly conn: StreamConn
  /** `127.0.0.1:51234`, for logs and as the stream's `src`. */
  readonly src: string
  /** The front's progress through its handshake (its own numbering). */
  stage = 0
  /** Set by the front once the client authenticated (or none was needed): the name, for logs. */
  user: string | undefined
  deadlineAt = 0
  deadlineSlot = -1
  private readonly front: ProxyFront
  private buf: Uint8Array
  private start = 0
  private end = 0
  private phase: 'handshake' | 'opening' | 'held' | 'done' = 'handshake'
  private readonly abort = new AbortController()
  /** Bytes that came after the handshake, before the stream was open: its first bytes. */
  private early: Uint8Array[] = []
  private earlyBytes = 0
  /** The client sent its FIN while its stream was opening: passed on once it is open. */
  private endedEarly = false
  private endHandshake: (() => void) | undefined
  private readonly gone: () => void

  constructor(shared: ProxyListenerShared, front: ProxyFront, conn: StreamConn, endHandshake: () => void, gone: () => void) {
    this.shared = shared
    this.front = front
    this.conn = conn
    this.src = formatAddress(conn.remote)
    this.endHandshake = endHandshake
    this.gone = gone
    this.buf = new Uint8Array(Math.min(front.maxMessage, 512))
    const { ctx } = shared
    ctx.deadlines.set(this, ctx.deadlines.clock.now() + ctx.options.helloTimeoutMs)
    conn.setHandlers({
      onData: (chunk) => this.onData(chunk),
      onEnd: () => {
        if (this.phase === 'handshake') this.drop('closed its side before the handshake ended', undefined, false)
        else if (this.phase === 'opening') this.endedEarly = true
        else if (this.phase === 'held') this.finish()
      },
      onClose: () => this.finish(),
    })
  }

  /** Still reading its handshake: not answered for good, not dropped. */
  get inHandshake(): boolean {
    return this.phase === 'handshake'
  }

  /** The bytes received and not yet consumed (valid until the next call into the client). */
  pending(): Uint8Array {
    return this.buf.subarray(this.start, this.end)
  }

  consume(n: number): void {
    this.start += n
    if (this.start === this.end) this.start = this.end = 0
  }

  /** Sends handshake bytes (a method choice, an auth status). */
  send(bytes: Uint8Array): void {
    this.conn.write(bytes)
  }

  /** Malformed input, wrong credentials, a refused command: answers (if anything), logs, counts, closes. */
  drop(why: string, answer?: Uint8Array, counted = true, reason = 'proxy_handshake'): void {
    if (this.phase === 'done') return
    if (counted) this.shared.ctx.drops.drop(reason, `${this.shared.spec.kind}/${this.shared.spec.role} ${this.src}: ${why}`)
    this.leaveHandshake()
    this.phase = 'done'
    if (answer && answer.length > 0) this.conn.write(answer)
    this.linger()
  }

  /** A login that failed: counted apart from malformed input, and logged (within the budget) with the user name. */
  authFailed(user: string, answer: Uint8Array): void {
    const { ctx, log, budget, stat } = this.shared
    ctx.stats.add(`${stat}.auth_failed`)
    budget.log((m) => log.warn(m), `${this.src}: wrong credentials for user '${printable(user)}'`)
    this.drop('wrong credentials', answer, false)
  }

  /**
   * Opens a stream to `dst` through the --out and joins it to the client, answering with
   * `answers.opened`; a refusal is answered with `answers.refused` and logged with its reason. The
   * client's bytes after the handshake (sent before the answer, as some clients do) go first.
   */
  open(dst: string, answers: OpenAnswers): void {
    const { ctx, out, log, budget, stat } = this.shared
    this.leaveHandshake()
    this.phase = 'opening'
    // Nothing more is read until the stream is open: the client's bytes wait in the kernel.
    this.conn.pause?.()
    const pending = this.pending()
    if (pending.length > 0) {
      this.early.push(pending.slice())
      this.earlyBytes = pending.length
    }
    this.buf = new Uint8Array(0)
    this.start = this.end = 0
    const who = `${this.src}${this.user !== undefined ? ` (user '${printable(this.user)}')` : ''}`
    out.openStream!({ dst, src: this.src, signal: AbortSignal.any([ctx.signal, this.abort.signal]) }).then(
      (opened) => {
        if (this.phase !== 'opening') {
          opened.stream.reset(new StreamError('reset', `${this.src} went away while its stream to ${dst} opened`))
          return
        }
        this.phase = 'done'
        ctx.stats.add(`${stat}.opened`)
        budget.log((m) => log.debug(m), `${who} → ${dst}: open`)
        this.conn.write(answers.opened(opened))
        for (const chunk of this.early) opened.stream.write(chunk)
        this.early = []
        if (this.endedEarly) opened.stream.end()
        pipe(connStream(this.conn, this.src, this.gone), opened.stream)
        this.conn.resume?.()
      },
      (err: unknown) => {
        const reason = isStreamError(err) ? err : new StreamError(codeOfDialError(err), (err as Error)?.message ?? String(err))
        if (this.phase !== 'opening') return
        this.phase = 'done'
        ctx.stats.add(`${stat}.refused.${reason.streamCode}`)
        budget.log((m) => log.info(m), `${who} → ${dst}: refused (${reason.streamCode}): ${reason.message}`)
        this.conn.write(answers.refused(reason))
        this.linger()
      },
    )
  }

  /**
   * Takes the connection out of the handshake for the front to keep (a UDP association lives as
   * long as it): the timer stops, and `onGone` runs when the client closes it.
   */
  hold(onGone: () => void): void {
    this.leaveHandshake()
    this.phase = 'held'
    this.buf = new Uint8Array(0)
    this.start = this.end = 0
    this.onHeldGone = onGone
  }

  private onHeldGone: (() => void) | undefined

  onDeadline(): void {
    if (this.phase === 'handshake') {
      this.drop(`no complete handshake within ${this.shared.ctx.options.helloTimeoutMs} ms (--hello-timeout)`, undefined, true, 'proxy_handshake_timeout')
    } else if (this.phase === 'done') {
      // The answer had its time to be read.
      this.conn.destroy()
    }
  }

  private onData(chunk: Uint8Array): void {
    if (this.phase === 'held') {
      // RFC 1928: the TCP connection of a UDP association only says it is alive; bytes on it are dropped.
      this.shared.ctx.stats.add(`${this.shared.stat}.control_bytes_dropped`, chunk.length)
      return
    }
    if (this.phase === 'opening') {
      // Read before the pause took hold: the stream's first bytes, kept (within a bound) until it is open.
      this.earlyBytes += chunk.length
      if (this.earlyBytes > MAX_EARLY) return this.abandon(`sent more than ${MAX_EARLY} bytes before its stream was open`)
      this.early.push(chunk.slice())
      return
    }
    if (this.phase !== 'handshake') return
    // Whatever does not fit in the handshake buffer waits for the message before it to be read:
    // a client may send its first stream bytes right behind its request.
    let rest = chunk
    while (rest.length > 0 && this.phase === 'handshake') {
      const room = this.room()
      if (room === 0) return this.drop(`sent more than ${this.front.maxMessage} bytes without completing its handshake`, this.front.overflowAnswer)
      const part = rest.subarray(0, room)
      rest = rest.subarray(part.length)
      this.buf.set(part, this.end)
      this.end += part.length
      this.front.step(this)
    }
    if (rest.length > 0 && (this.phase as string) === 'opening') this.onData(rest)
  }

  /** Room for more handshake bytes: moves the unread ones to the front and grows the buffer up to the front's largest message. */
  private room(): number {
    const max = this.front.maxMessage
    if (this.start > 0) {
      this.buf.copyWithin(0, this.start, this.end)
      this.end -= this.start
      this.start = 0
    }
    if (this.end === this.buf.length && this.buf.length < max) {
      const bigger = new Uint8Array(Math.min(max, this.buf.length * 2))
      bigger.set(this.buf.subarray(0, this.end))
      this.buf = bigger
    }
    return this.buf.length - this.end
  }

  /** A client that broke a bound while its stream opened: no answer, the connection reset. */
  private abandon(why: string): void {
    this.shared.ctx.drops.drop('proxy_handshake', `${this.shared.spec.kind}/${this.shared.spec.role} ${this.src}: ${why}`)
    this.phase = 'done'
    this.abort.abort()
    this.early = []
    if (this.conn.reset) this.conn.reset()
    else this.conn.destroy()
  }

  private leaveHandshake(): void {
    this.shared.ctx.deadlines.clear(this)
    const fn = this.endHandshake
    this.endHandshake = undefined
    fn?.()
  }

  /** Ends the connection once the answer is out; destroys it if the client does not close in time. */
  private linger(): void {
    this.conn.end()
    this.shared.ctx.deadlines.set(this, this.shared.ctx.deadlines.clock.now() + LINGER_MS)
  }

  private finish(): void {
    this.leaveHandshake()
    this.shared.ctx.deadlines.clear(this)
    this.abort.abort()
    if (this.phase === 'held') {
      const fn = this.onHeldGone
      this.onHeldGone = undefined
      fn?.()
      this.conn.destroy()
    }
    this.gone()
    this.phase = 'done'
  }
}

/** A client's text for a log line: short, controls and non-ASCII as '?'. */
export function printable(s: string): string {
  return s.slice(0, 64).replace(/[^\x20-\x7e]/g, '?')
}
