/**
 * A ZMTP 3.1 connection over a TCP StreamConn: greeting, NULL handshake (READY / ERROR), then one
 * ZeroMQ message per write. What the peer sends that edgerelay does not carry (multi-part
 * messages, oversized messages, commands other than PING/PONG/ERROR) is dropped and counted, the
 * connection kept; a stream that cannot be parsed (reserved flag bits) is closed.
 */
import type { StreamConn } from '../ports/runtime.ts'
import { RelayError } from '../base/errors.ts'
import type { DropReporter, Stats } from '../base/stats.ts'
import { ByteQueue } from '../base/byte-queue.ts'
import { HandshakeConn } from '../core/tunnel/handshake-conn.ts'
import { sameSecret } from '../protocol/hello.ts'
import {
  GREETING_SIZE, ZmtpReader, encodeCommand, encodeError, encodeGreeting, encodeReady, messageHeader, parseCommand,
  parseErrorReason, parseGreeting, parseProperties, plausibleSignature,
} from '../protocol/zmtp.ts'

/** Largest command a peer may send before it is authenticated (READY with a few properties). */
const HANDSHAKE_LIMIT = 4096
export const CODEC_PROPERTY = 'X-Edgerelay-Codec'
export const TOKEN_PROPERTY = 'X-Edgerelay-Token'

export interface ZmtpOptions {
  /** server: ROUTER, accepts DEALER peers; client: DEALER, accepts a ROUTER. */
  role: 'server' | 'client'
  codec: string
  token?: string
  handshakeTimeoutMs: number
  /** Largest message body accepted; larger ones are skipped unbuffered and counted. */
  maxMessage: number
  drops: DropReporter
  stats: Stats
}

const SOCKET_TYPE = { server: 'ROUTER', client: 'DEALER' } as const
const PEER_TYPE = { server: 'DEALER', client: 'ROUTER' } as const

/** Runs the ZMTP handshake on `raw`; resolves with the message connection, or rejects (raw destroyed). */
export function zmtpHandshake(raw: StreamConn, o: ZmtpOptions): Promise<StreamConn> {
  return new ZmtpConn(raw, o).opened
}

class ZmtpConn extends HandshakeConn {
  private readonly o: ZmtpOptions
  private greeting: ByteQueue | undefined = new ByteQueue()
  private readonly reader: ZmtpReader
  /** Inside a multi-part message being dropped. */
  private discarding = false

  constructor(raw: StreamConn, o: ZmtpOptions) {
    super(raw, o.handshakeTimeoutMs, () => new RelayError('E_HELLO_TIMEOUT', `ZMTP handshake not completed within ${o.handshakeTimeoutMs} ms`))
    this.o = o
    this.reader = new ZmtpReader(Math.max(HANDSHAKE_LIMIT, o.maxMessage), {
      frame: (body, command, more) => this.frame(body, command, more),
      oversize: (size, command, more) => this.oversize(size, command, more),
    })
    raw.write(encodeGreeting(o.role === 'server'))
  }

  protected received(chunk: Uint8Array): void {
    try {
      if (this.greeting) {
        const g = this.greeting
        const need = GREETING_SIZE - g.length
        g.append(chunk.subarray(0, need))
        chunk = chunk.subarray(Math.min(need, chunk.length))
        if (!plausibleSignature(g.view())) throw new RelayError('E_ZMTP_GREETING', 'the peer is not speaking ZMTP (bad greeting signature)')
        if (g.length < GREETING_SIZE) return
        const greeting = parseGreeting(g.view())
        this.greeting = undefined
        if (greeting.mechanism !== 'NULL') {
          this.raw.write(encodeError(`security mechanism ${greeting.mechanism} is not supported: edgerelay speaks NULL (use tls/ or a token)`))
          throw new RelayError('E_ZMTP_MECHANISM', `peer asked for ZMTP mechanism ${greeting.mechanism}; only NULL is supported`)
        }
        if (this.o.role === 'client') this.raw.write(this.ready())
        if (chunk.length === 0) return
      }
      this.reader.push(chunk)
      if (!this.isOpen && this.reader.buffered > HANDSHAKE_LIMIT + 9) throw new RelayError('E_ZMTP_COMMAND', 'handshake command too large')
    } catch (err) {
      this.o.stats.add('tunnel.protocol_errors')
      this.fail(err as Error)
    }
  }

  protected closedDuringHandshake(err?: Error): Error {
    return new RelayError('E_HELLO_CLOSED', `connection to ${this.label} closed during the ZMTP handshake${err ? `: ${err.message}` : ''}`)
  }

  private ready(): Uint8Array {
    const props: Record<string, string> = { 'Socket-Type': SOCKET_TYPE[this.o.role], [CODEC_PROPERTY]: this.o.codec }
    if (this.o.role === 'client' && this.o.token !== undefined) props[TOKEN_PROPERTY] = this.o.token
    return encodeReady(props)
  }

  private frame(body: Uint8Array, command: boolean, more: boolean): void {
    if (this.isClosed) return
    if (!this.isOpen) return this.handshakeFrame(body, command)
    if (command) return this.command(body)
    if (this.discarding || more) {
      if (!this.discarding) this.o.drops.drop('zmq_multipart', `ZMTP peer ${this.label} sent a multi-part message: edgerelay carries one frame per single-part message`)
      this.discarding = more
      return
    }
    if (body.length === 0) return this.o.drops.drop('zmq_empty', `ZMTP peer ${this.label} sent an empty message`)
    this.deliver(body)
  }

  private oversize(size: number, command: boolean, more: boolean): void {
    if (!this.isOpen) throw new RelayError('E_ZMTP_COMMAND', `handshake frame of ${size} bytes (at most ${HANDSHAKE_LIMIT})`)
    if (command) return this.o.drops.drop('zmq_oversize', `ZMTP peer ${this.label} sent a command of ${size} bytes`)
    if (!this.discarding) this.o.drops.drop('zmq_oversize', `ZMTP peer ${this.label} sent a message of ${size} bytes (at most ${this.o.maxMessage})`)
    this.discarding = more
  }

  private handshakeFrame(body: Uint8Array, command: boolean): void {
    if (!command) throw new RelayError('E_ZMTP_HANDSHAKE', 'a message before READY')
    const { name, data } = parseCommand(body)
    if (name === 'ERROR') throw this.peerError(parseErrorReason(data))
    if (name !== 'READY') throw new RelayError('E_ZMTP_HANDSHAKE', `expected READY, got ${name.slice(0, 32)}`)
    const props = parseProperties(data)
    const type = (props.get('socket-type') ?? '').toUpperCase()
    const want = PEER_TYPE[this.o.role]
    if (type !== want) return this.refuse('E_ZMTP_SOCKET_TYPE', `socket type ${type.slice(0, 16) || '(none)'} cannot talk to this ${SOCKET_TYPE[this.o.role]}: use ${want}`)
    const codec = props.get(CODEC_PROPERTY.toLowerCase())
    if (codec !== undefined && codec !== this.o.codec) return this.refuse('E_CODEC_MISMATCH', `codec mismatch: this half speaks '${this.o.codec}', the peer '${codec.slice(0, 32)}'`)
    if (this.o.role === 'server' && this.o.token !== undefined) {
      const token = props.get(TOKEN_PROPERTY.toLowerCase())
      if (!sameSecret(token, this.o.token)) return this.refuse('E_AUTH', token === undefined ? `a token is required (READY property ${TOKEN_PROPERTY})` : 'wrong token')
    }
    if (this.o.role === 'server') this.raw.write(this.ready())
    this.handshakeDone()
  }

  /** A refusal the peer is told about (ERROR "E_X: reason"), then the connection closes. */
  private refuse(code: string, reason: string): void {
    this.o.stats.add('tunnel.refused')
    this.raw.write(encodeError(`${code}: ${reason}`))
    this.fail(new RelayError(code, `refused ZMTP peer ${this.label}: ${reason}`))
  }

  private peerError(reason: string): RelayError {
    const code = /^(E_[A-Z_]+):/.exec(reason)?.[1]
    const known = code === 'E_AUTH' || code === 'E_CODEC_MISMATCH' ? code : 'E_HELLO_REFUSED'
    return new RelayError(known, `ZMTP peer ${this.label} refused the connection: ${reason}`)
  }

  private command(body: Uint8Array): void {
    const { name, data } = parseCommand(body)
    if (name === 'PING') {
      // TTL (2 bytes), then up to 16 bytes of context the PONG echoes.
      this.raw.write(encodeCommand('PONG', data.subarray(2, 18)))
      return
    }
    if (name === 'PONG') return
    if (name === 'ERROR') return this.fail(this.peerError(parseErrorReason(data)))
    this.o.drops.drop('zmq_command', `ZMTP peer ${this.label} sent a ${name.slice(0, 32)} command, which a ${SOCKET_TYPE[this.o.role]} ignores`)
  }

  write(data: Uint8Array): boolean {
    if (!this.isOpen) return false
    this.raw.write(messageHeader(data.length))
    return this.raw.write(data)
  }
}
