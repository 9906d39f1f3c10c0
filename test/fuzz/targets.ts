/**
 * Every parser a peer (or a config file) can reach, as fuzz targets (issue 13 item 9). Each target
 * has an input generator (random bytes or text, and valid samples with random edits, so the fuzzer
 * gets past the first byte) and a `run` that feeds one input and checks what may come out: a value,
 * the parser's own refusal (a RelayError, or a `{kind: 'bad'}` result), never another exception,
 * never more held or produced than the input allows. test/fuzz/fuzz.test.ts runs them for a bounded
 * time in `npm test`, `npm run fuzz` for longer. A new parser is one more line in TARGETS.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { Deadlines } from '../../src/base/deadlines.ts'
import { isRelayError } from '../../src/base/errors.ts'
import { createLogger } from '../../src/base/logger.ts'
import { Stats } from '../../src/base/stats.ts'
import { Session, type AutoWire } from '../../src/core/tunnel/session.ts'
import { parseUdpRequest } from '../../src/connectors/http-in.ts'
import { loadConfig } from '../../src/cli/config.ts'
import { parseConnector } from '../../src/net/connector-string.ts'
import { encodeQuery, parseReply } from '../../src/net/dns-message.ts'
import { CODEC_NAMES, codecByName } from '../../src/protocol/codecs/index.ts'
import { Kind, MAX_ENCODED_FRAME, MAX_PAYLOAD, type Frame } from '../../src/protocol/frame.ts'
import { encodeClientHello, encodeServerReply, parseClientHello, parseServerReply } from '../../src/protocol/hello.ts'
import { parseConnectHead } from '../../src/protocol/http-connect.ts'
import * as socks5 from '../../src/protocol/socks5.ts'
import { grpcWire, negotiatedWire, uhppotedWire, type Wire } from '../../src/protocol/wire.ts'
import { wireFor } from '../../src/protocol/wire-for.ts'
import { XmlStreamParser } from '../../src/protocol/xml-stream.ts'
import { encodeCommand, encodeGreeting, encodeReady, parseCommand, parseGreeting, parseProperties, ZmtpReader } from '../../src/protocol/zmtp.ts'
import type { StreamConn, StreamHandlers } from '../../src/ports/runtime.ts'
import { FakeClock } from '../helpers/fake-clock.ts'

export interface FuzzTarget {
  name: string
  input: fc.Arbitrary<unknown>
  /**
   * Feeds one input; throws (an assertion, or the parser's own exception) on a defect. Returns
   * whether the parser took it (the test checks that some inputs get that far).
   */
  run(input: unknown): boolean
}

const enc = new TextEncoder()

/** Random bytes, and `seeds` with random bytes changed, cut short, repeated or spliced. */
export function bytesLike(seeds: Uint8Array[], maxLength = 600): fc.Arbitrary<Uint8Array> {
  const random: fc.Arbitrary<Uint8Array> = fc.uint8Array({ maxLength })
  if (seeds.length === 0) return random
  const edit: fc.Arbitrary<(b: Uint8Array) => Uint8Array> = fc.oneof(
    fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }).map((e) => (b: Uint8Array) => {
      if (b.length) b[e.at % b.length] = e.byte
      return b
    }),
    fc.nat().map((n) => (b: Uint8Array) => b.subarray(0, b.length ? n % (b.length + 1) : 0)),
    fc.uint8Array({ maxLength: 32 }).map((extra) => (b: Uint8Array) => concat(b, extra)),
    fc.nat().map((n) => (b: Uint8Array) => concat(b, b.subarray(0, n % (b.length + 1)))),
  )
  const mutated: fc.Arbitrary<Uint8Array> = fc.tuple(fc.constantFrom(...seeds), fc.array(edit, { maxLength: 6 })).map(([seed, edits]) => edits.reduce((b: Uint8Array, e) => e(b), seed.slice() as Uint8Array))
  return fc.oneof({ weight: 1, arbitrary: random }, { weight: 3, arbitrary: mutated })
}

/** Random text, and `seeds` with characters changed, cut or repeated. */
export function textLike(seeds: string[], maxLength = 300): fc.Arbitrary<string> {
  const odd = fc.constantFrom('\u0000', '\uffff', '\ud800', 'é', '💥', '\r', '\t')
  const random = fc.string({ maxLength, unit: fc.oneof(fc.constantFrom(...'[]{}:,=#"\'\\/\n.%*@0123456789abcdefxyz -_'), odd, fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })) })
  const mutated = fc.tuple(fc.constantFrom(...seeds), fc.nat(), fc.string({ maxLength: 8 }), fc.nat()).map(([s, at, ins, cut]) => {
    const i = s.length ? at % s.length : 0
    return (s.slice(0, i) + ins + s.slice(i)).slice(0, s.length + ins.length - (cut % 3))
  })
  return fc.oneof(random, mutated)
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}

/** Runs `fn`; a RelayError (the parser's refusal) is fine, with `codes` limiting which. True when nothing was refused. */
function refusalOk(fn: () => unknown, codes?: RegExp): boolean {
  try {
    return fn() !== undefined
  } catch (err) {
    if (isRelayError(err) && (!codes || codes.test(err.code))) return false
    throw err
  }
}

/** A parser that answers with `{kind}`: taken when done. */
const done = (r: { kind: string }) => r.kind === 'done'

/** Splits `bytes` at the cut points (mod length): the same stream in other reads. */
function chunks(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const at = [...new Set(cuts.map((c) => (bytes.length ? c % bytes.length : 0)))].sort((a, b) => a - b)
  const out: Uint8Array[] = []
  let from = 0
  for (const c of at) {
    if (c > from) out.push(bytes.subarray(from, c))
    from = Math.max(from, c)
  }
  out.push(bytes.subarray(from))
  return out
}

const sampleFrames: Frame[] = [
  { flow: 1, id: 7, kind: Kind.request, payload: enc.encode('hello') },
  { flow: 0, id: 0, kind: Kind.ping, payload: new Uint8Array(0) },
  { flow: 3, id: 1, kind: Kind.error, payload: new Uint8Array(0), error: 'boom' },
  { flow: 9, id: 2, kind: Kind.open, payload: new Uint8Array(0), dst: 'example.com:80', src: '[::1]:5' },
  { flow: 0xffffffff, id: 0xffffffff, kind: Kind.reply, payload: new Uint8Array(300).fill(7) },
]

/** Checks a decoded frame stays within what the input could carry. */
function frameOk(f: Frame, inputLength: number): void {
  assert.ok(f.payload.length <= MAX_PAYLOAD && f.payload.length <= inputLength, `payload of ${f.payload.length} bytes from ${inputLength}`)
}

/** A stream reader fed the bytes in random reads: frames and its buffer stay bounded, only refusals thrown. */
function readerTarget(name: string, wire: Wire, seeds: Uint8Array[]): FuzzTarget {
  return {
    name,
    input: fc.tuple(bytesLike(seeds, 2000), fc.array(fc.nat(), { maxLength: 8 })),
    run(input) {
      const [bytes, cuts] = input as [Uint8Array, number[]]
      let total = 0
      let frames = 0
      const reader = wire.reader((f) => {
        frames++
        total += f.payload.length
        frameOk(f, bytes.length)
      }, Kind.request)
      refusalOk(() => {
        for (const c of chunks(bytes, cuts)) {
          reader.push(c)
          assert.ok(reader.buffered <= MAX_ENCODED_FRAME + 8, `the reader holds ${reader.buffered} bytes`)
        }
      })
      assert.ok(total <= bytes.length, 'more payload out than bytes in')
      return frames > 0
    },
  }
}

class FakeConn implements StreamConn {
  readonly remote = { address: '192.0.2.7', port: 4000, family: 4 as const }
  readonly local = { address: '192.0.2.1', port: 12345, family: 4 as const }
  readonly bufferedAmount = 0
  written = 0
  handlers: StreamHandlers | undefined
  write(data: Uint8Array): boolean {
    this.written += data.length
    return true
  }
  setHandlers(h: StreamHandlers): void {
    this.handlers = h
  }
  end(): void {}
  destroy(): void {
    this.handlers?.onClose()
  }
}

/** A server session (hello, codec auto, or a WebSocket's message framing) fed what a peer sends. */
function sessionTarget(name: string, wire: () => Wire | AutoWire, seeds: Uint8Array[], token?: string): FuzzTarget {
  return {
    name,
    input: fc.tuple(bytesLike(seeds, 1500), fc.array(fc.nat(), { maxLength: 6 })),
    run(input) {
      const [bytes, cuts] = input as [Uint8Array, number[]]
      const conn = new FakeConn()
      const clock = new FakeClock()
      const session = new Session(conn, { side: 'server', wire: wire(), token, helloTimeoutMs: 10_000, heartbeatMs: 8000, defaultKind: Kind.request, logger: createLogger('silent'), stats: new Stats(), deadlines: new Deadlines(clock) })
      session.onFrame = (f) => frameOk(f, bytes.length)
      // received() turns every bad input into a refusal or a closed session: nothing may escape.
      for (const c of chunks(bytes, cuts)) conn.handlers!.onData(c)
      const opened = session.state === 'open'
      clock.advance(30_000)
      // What it answers is a hello reply, an error frame or pongs: bounded by what it was sent.
      assert.ok(conn.written <= 8192 + bytes.length * 4, `${conn.written} bytes written for ${bytes.length} received`)
      return opened
    },
  }
}

const helloSeeds = [encodeClientHello({ codec: 'protobuf', token: 'secret' }), encodeClientHello({ codec: 'msgpack' }), encodeClientHello({ codec: 'x'.repeat(255), token: 'é'.repeat(300) })]
const streamSeeds = (wire: Wire, token?: string) => [concat(encodeClientHello({ codec: wire.name, token }), wire.encode(sampleFrames[0]!)), encodeClientHello({ codec: wire.name, token }), ...sampleFrames.map((f) => wire.encode(f))]
const protobuf = wireFor('protobuf')
const autoWire = (): AutoWire => ({ wireFor: (n) => (n !== 'uhppoted' && (CODEC_NAMES as readonly string[]).includes(n) ? wireFor(n) : undefined), uhppoted: uhppotedWire, silenceMs: 1000 })
const zmtpSeeds = [encodeGreeting(true), encodeCommand('READY', encodeReady({ 'Socket-Type': 'DEALER', 'X-Edgerelay-Token': 't' })), concat(new Uint8Array([0, 5]), enc.encode('hello'))]
const socksSeeds = [new Uint8Array([5, 2, 0, 2]), new Uint8Array([1, 3, ...enc.encode('bob'), 3, ...enc.encode('pwd')]), new Uint8Array([5, 1, 0, 3, 11, ...enc.encode('example.com'), 0, 80]), new Uint8Array([5, 1, 0, 4, ...new Uint8Array(16), 1, 187]), new Uint8Array([0, 0, 0, 1, 10, 0, 0, 1, 0, 53, 1, 2, 3])]
const connectSeeds = [enc.encode('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nProxy-Authorization: Basic Ym9iOnB3ZA==\r\n\r\n'), enc.encode('CONNECT [::1]:22 HTTP/1.0\r\n\r\n')]
/** A reply to the query for host.example: the query with QR set and one A record (a pointer to the question's name). */
function dnsReply(): Uint8Array {
  const q = encodeQuery(0x1234, 'host.example', 4)
  const reply = concat(q, new Uint8Array([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]))
  reply[2] = 0x81
  reply[3] = 0x80
  reply[7] = 1
  return reply
}
const dnsSeeds = [dnsReply(), encodeQuery(0x1234, 'host.example', 4)]

export const TARGETS: FuzzTarget[] = [
  { name: 'hello: client hello', input: bytesLike(helloSeeds), run: (b) => refusalOk(() => parseClientHello(b as Uint8Array), /^E_HELLO_/) },
  { name: 'hello: server reply', input: bytesLike([encodeServerReply(true), encodeServerReply(false, 'wrong token')]), run: (b) => refusalOk(() => parseServerReply(b as Uint8Array), /^E_HELLO_/) },
  ...CODEC_NAMES.map((name): FuzzTarget => ({
    name: `codec ${name}: decode`,
    input: bytesLike(sampleFrames.map((f) => codecByName(name).encode(f))),
    run: (b) => refusalOk(() => {
      const f = codecByName(name).decode(b as Uint8Array)
      frameOk(f, (b as Uint8Array).length)
      return f
    }, /^E_FRAME_DECODE$/),
  })),
  readerTarget('stream reader: u32 length framing (tcp, tls, ws)', protobuf, streamSeeds(protobuf)),
  readerTarget('stream reader: uhppoted-tunnel framing', uhppotedWire, sampleFrames.map((f) => uhppotedWire.encode(f))),
  readerTarget('gRPC message framing', grpcWire(codecByName('protobuf')), sampleFrames.map((f) => grpcWire(codecByName('protobuf')).encode(f))),
  sessionTarget('session: tcp/tls server hello with a token', () => protobuf, streamSeeds(protobuf, 'secret'), 'secret'),
  sessionTarget('session: codec auto (hello or uhppoted-tunnel framing)', autoWire, [...streamSeeds(protobuf), ...sampleFrames.map((f) => uhppotedWire.encode(f))]),
  sessionTarget('WebSocket message splitter (one message per read)', () => negotiatedWire(protobuf, { messageFramed: true }), sampleFrames.map((f) => protobuf.encode(f))),
  {
    name: 'ZMTP greeting, commands and frames',
    input: bytesLike(zmtpSeeds, 800),
    run(b) {
      const bytes = b as Uint8Array
      let taken = refusalOk(() => parseGreeting(bytes.subarray(0, 64)))
      taken = refusalOk(() => parseProperties(bytes)) || taken
      taken = refusalOk(() => parseCommand(bytes)) || taken
      let frames = 0
      const reader = new ZmtpReader(300, { frame: (body) => void (frames++, assert.ok(body.length <= 300)), oversize: () => {} })
      refusalOk(() => reader.push(bytes))
      assert.ok(reader.buffered <= 300 + 9)
      return taken || frames > 0
    },
  },
  {
    name: 'XMPP stream parser',
    input: textLike(["<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='x'>", "<message to='a@b' type='chat'><body>aGVsbG8=</body></message>", '</stream:stream>', '<a b="&amp;&lt;&#65;&#x41;">t</a>'], 800),
    run(s) {
      let events = 0
      const parser = new XmlStreamParser({ streamOpen: () => void events++, stanza: () => void events++, streamClose: () => void events++ }, 4096)
      refusalOk(() => parser.push(s as string), /^E_XML$/)
      return events > 0
    },
  },
  // These answer with a result ({kind: 'bad'} for a refusal) and never throw.
  { name: 'SOCKS5 greeting', input: bytesLike(socksSeeds), run: (b) => done(socks5.parseGreeting(b as Uint8Array)) },
  { name: 'SOCKS5 username and password', input: bytesLike(socksSeeds), run: (b) => done(socks5.parseUserPass(b as Uint8Array)) },
  { name: 'SOCKS5 request', input: bytesLike(socksSeeds), run: (b) => done(socks5.parseRequest(b as Uint8Array)) },
  { name: 'SOCKS5 UDP header', input: bytesLike(socksSeeds), run: (b) => done(socks5.parseUdpHeader(b as Uint8Array)) },
  { name: 'HTTP CONNECT head', input: bytesLike(connectSeeds, 9000), run: (b) => done(parseConnectHead(b as Uint8Array)) },
  {
    name: 'DNS reply',
    input: bytesLike(dnsSeeds),
    run: (b) => refusalOk(() => parseReply(b as Uint8Array, 0x1234, 'host.example', 4)),
  },
  {
    name: 'HTTP API JSON body',
    input: textLike(['{"ID": 7, "wait": "500ms", "request": [1, 2, 3]}', '{"ID": 1, "wait": true, "request": "AQID"}', '{"request": [256]}']),
    run(s) {
      let body: unknown
      try {
        body = JSON.parse(s as string)
      } catch {
        return false
      }
      // parseUdpRequest throws a plain Error with the reason for a 400; anything else is a defect.
      let taken = false
      for (const path of ['/udp/send', '/udp/broadcast'] as const) {
        try {
          const r = parseUdpRequest(body, path)
          assert.ok(r.request.length > 0 && r.request.length <= 65_507)
          taken = true
        } catch (err) {
          if (!(err instanceof Error) || err instanceof TypeError || err instanceof RangeError) throw err
        }
      }
      return taken
    },
  },
  { name: 'connector string', input: textLike(['udp/listen:127.0.0.1:5300', 'tcp/client::eth0:[fe80::1%eth0]:80,bind=*,attempt-delay=100', 'ws/client:wss://h:1/p', 'udp/p2p:*:1,peer=a:2', 'http/0.0.0.0:8080']), run: (s) => refusalOk(() => parseConnector(s as string)) },
  {
    name: 'TOML config',
    input: textLike(['[defaults]\nudp-timeout = "5s"\n[a]\nin = "udp/listen:127.0.0.1:1"\nout = "tcp/client:h:2"\n', '[x.controllers]\n405419896 = "udp::192.168.1.100:60000"\n[x]\nin="a"\nout="b"\ninterfaces = { in = "eth0" }\n']),
    run: (s) => refusalOk(() => loadConfig(s as string, 'fuzz.toml', undefined), /^E_CONFIG$/),
  },
]
