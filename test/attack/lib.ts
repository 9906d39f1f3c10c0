/**
 * The attack suite's tools (issue 13): a half under attack runs as its own CLI process with a low
 * descriptor limit (`ulimit -n`), so a bounded flood reaches the limits in seconds; a Meter samples
 * its descriptors (/proc/<pid>/fd) and resident memory (/proc/<pid>/status) and counts its log
 * lines; a legitimate client on another connection sends requests throughout and counts the
 * replies. The attacks themselves are plain node:net/http/http2 code (it runs on every runtime).
 * test/attack/*.test.ts assert on these figures; bench/attacks.ts prints them as a table.
 */
import dgram from 'node:dgram'
import http from 'node:http'
import http2 from 'node:http2'
import net from 'node:net'
import tls from 'node:tls'
import { readdirSync, readFileSync } from 'node:fs'
import { spawn, type ChildProcess } from 'node:child_process'
import { startHalf, type Half, type HalfOptions } from '../../mod.ts'
import { encodeClientHello } from '../../src/protocol/hello.ts'
import { lengthPrefixedWire, grpcWire } from '../../src/protocol/wire.ts'
import { protobufCodec } from '../../src/protocol/codecs/protobuf.ts'
import { Kind, type Frame } from '../../src/protocol/frame.ts'
import { encodeClientFrame } from '../helpers/raw-ws.ts'
import { CLI, ROOT } from '../helpers/processes.ts'

export type RuntimeName = 'node' | 'bun' | 'deno'

/** Where attacks come from: another loopback address than the legitimate client's 127.0.0.1. */
export const ATTACKER = '127.0.0.2'

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

// --- the half under attack ------------------------------------------------------------------

export interface Target {
  pid: number
  child: ChildProcess
  /** The port its in connector listens on. */
  port: number
  output(): string
  lines(): number
  stop(): Promise<void>
}

/** Starts the CLI on `runtime` with `args` under `ulimit -n fdLimit`; resolves once it listens. */
export async function startTarget(runtime: RuntimeName, args: string[], fdLimit: number): Promise<Target> {
  // Deno reads the descriptor limit (/proc/self/limits) only with --allow-all: the README's
  // `deno run -A` form, so the half derives its limits from the real one.
  const cli = runtime === 'deno' ? [CLI.deno[0]!, 'run', '-A', '--unstable-net', CLI.deno.at(-1)!] : CLI[runtime]
  const cmd = [...cli, ...args]
  // exec keeps the pid: /proc/<pid> is the runtime itself.
  const child = spawn('sh', ['-c', 'ulimit -n "$0" && exec "$@"', String(fdLimit), ...cmd], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } })
  let out = ''
  const onData = (d: Buffer) => void (out += d.toString())
  child.stdout!.on('data', onData)
  child.stderr!.on('data', onData)
  const exited = new Promise<void>((r) => child.on('close', () => r()))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await Promise.race([exited, sleep(3000)])
  }
  const deadline = Date.now() + 30_000
  for (;;) {
    const m = /listening on \S*?:(\d+)\b/.exec(out)
    if (m) return { pid: child.pid!, child, port: Number(m[1]), output: () => out, lines: () => out.split('\n').length - 1, stop }
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop()
      throw new Error(`target did not start listening: ${cmd.join(' ')}\n${out}`)
    }
    await sleep(50)
  }
}

// --- measuring --------------------------------------------------------------------------------

export function descriptors(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return 0
  }
}

export function rssKb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) : 0
  } catch {
    return 0
  }
}

export interface Figures {
  fdBase: number
  fdPeak: number
  /** MB, one decimal. */
  rssBase: number
  rssPeak: number
  /** Lines the target logged from the start of the attack to the end of the measurement. */
  logLines: number
  legit: ProbeResult
  /** Whether the target was still running at the end. */
  alive: boolean
}

/** Samples a process every `everyMs` from start() until stop(). */
export class Meter {
  private readonly target: Target
  private timer: ReturnType<typeof setInterval> | undefined
  private startLines = 0
  fdBase = 0
  fdPeak = 0
  rssBase = 0
  rssPeak = 0

  constructor(target: Target) {
    this.target = target
  }

  start(everyMs = 25): void {
    const pid = this.target.pid
    this.fdBase = this.fdPeak = descriptors(pid)
    this.rssBase = this.rssPeak = rssKb(pid)
    this.startLines = this.target.lines()
    this.timer = setInterval(() => this.sample(), everyMs)
  }

  sample(): void {
    const pid = this.target.pid
    this.fdPeak = Math.max(this.fdPeak, descriptors(pid))
    this.rssPeak = Math.max(this.rssPeak, rssKb(pid))
  }

  get fdNow(): number {
    return descriptors(this.target.pid)
  }

  get logLines(): number {
    return this.target.lines() - this.startLines
  }

  stop(legit: ProbeResult): Figures {
    this.sample()
    clearInterval(this.timer)
    const mb = (kb: number) => Math.round(kb / 102.4) / 10
    return {
      fdBase: this.fdBase,
      fdPeak: this.fdPeak,
      rssBase: mb(this.rssBase),
      rssPeak: mb(this.rssPeak),
      logLines: this.logLines,
      legit,
      alive: this.target.child.exitCode === null && this.target.child.signalCode === null,
    }
  }
}

// --- the device and the legitimate client -----------------------------------------------------

export interface Echo {
  port: number
  close(): void
}

/** A UDP device that answers every datagram with `reply:` + the datagram. */
export function echoDevice(): Promise<Echo> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4')
    s.on('message', (msg, rinfo) => s.send(Buffer.concat([Buffer.from('reply:'), msg]), rinfo.port, rinfo.address))
    s.on('error', () => {})
    s.bind(0, '127.0.0.1', () => resolve({ port: s.address().port, close: () => s.close() }))
  })
}

export interface ProbeResult {
  sent: number
  answered: number
  /** Longest time without an answered probe while probing, ms. */
  longestGap: number
}

export interface Probe {
  stop(): Promise<ProbeResult>
}

/**
 * Sends one request every `everyMs` from a fresh UDP socket (a new flow each time, as dig does)
 * to a legitimate near half's udp/listen port, and counts the replies (each may take `waitMs`).
 */
export function udpProbe(port: number, everyMs = 100, waitMs = 1500): Probe {
  let sent = 0
  let answered = 0
  let lastOk = Date.now()
  let longestGap = 0
  let running = true
  const inFlight = new Set<Promise<void>>()
  const one = (n: number) => new Promise<void>((resolve) => {
    const s = dgram.createSocket('udp4')
    const payload = `probe-${n}`
    const done = (ok: boolean) => {
      clearTimeout(timer)
      try {
        s.close()
      } catch {
        // closed
      }
      if (ok) {
        answered++
        const now = Date.now()
        longestGap = Math.max(longestGap, now - lastOk)
        lastOk = now
      }
      resolve()
    }
    const timer = setTimeout(() => done(false), waitMs)
    s.on('error', () => done(false))
    s.on('message', (m) => {
      if (m.toString().endsWith(payload)) done(true)
    })
    s.send(payload, port, '127.0.0.1')
  })
  const loop = (async () => {
    while (running) {
      const p = one(sent++)
      inFlight.add(p)
      void p.then(() => inFlight.delete(p))
      await sleep(everyMs)
    }
  })()
  return {
    async stop() {
      running = false
      await loop
      await Promise.all(inFlight)
      longestGap = Math.max(longestGap, Date.now() - lastOk - waitMs)
      return { sent, answered, longestGap: Math.max(0, longestGap) }
    },
  }
}

/** A legitimate near half (udp/listen → `out`) in this process, and a probe through it. */
export async function legitClient(out: string, opts: Partial<HalfOptions> = {}): Promise<{ half: Half; probe: Probe; close(): Promise<void> }> {
  const half = await startHalf({ in: 'udp/listen:127.0.0.1:0', out, logLevel: 'silent', ...opts })
  const port = half.inAddresses()[0]!.port
  // Connected and answering before the attack starts.
  await firstReply(port)
  const probe = udpProbe(port)
  return { half, probe, close: () => half.close() }
}

async function firstReply(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const r = await udpProbe(port, 1000, 300).stop().catch(() => undefined)
    if (r?.answered) return
    await sleep(100)
  }
  throw new Error('the legitimate client got no reply before the attack')
}

/** An HTTP client on one kept-alive connection POSTing to /udp/broadcast every `everyMs`. */
export function httpProbe(port: number, everyMs = 100): Probe {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  let sent = 0
  let answered = 0
  let lastOk = Date.now()
  let longestGap = 0
  let running = true
  const one = (n: number) => new Promise<void>((resolve) => {
    const body = JSON.stringify({ ID: n, wait: '300ms', request: Array.from(new TextEncoder().encode(`probe-${n}`)) })
    const req = http.request({ host: '127.0.0.1', port, path: '/udp/broadcast', method: 'POST', agent, headers: { 'content-type': 'application/json' }, timeout: 3000 }, (res) => {
      let text = ''
      res.on('data', (d) => (text += d))
      res.on('end', () => {
        if (res.statusCode === 200 && text.includes('"replies":[[')) {
          answered++
          const now = Date.now()
          longestGap = Math.max(longestGap, now - lastOk)
          lastOk = now
        }
        resolve()
      })
      res.on('error', () => resolve())
    })
    req.on('error', () => resolve())
    req.on('timeout', () => req.destroy())
    req.end(body)
  })
  const loop = (async () => {
    while (running) {
      const started = Date.now()
      await one(sent++)
      await sleep(Math.max(0, everyMs - (Date.now() - started)))
    }
  })()
  return {
    async stop() {
      running = false
      await loop
      agent.destroy()
      return { sent, answered, longestGap: Math.max(longestGap, Date.now() - lastOk) }
    },
  }
}

// --- attacks ----------------------------------------------------------------------------------

export interface Flood {
  /** Connections the server accepted (connect completed). */
  connected: number
  /** Connections that failed to connect. */
  failed: number
  /** How many are still open now. */
  open(): number
  close(): void
}

/**
 * `n` TCP connections from ATTACKER that send `first` (or nothing) and then stay silent, opened
 * `concurrency` at a time.
 */
export async function idleFlood(port: number, n: number, opts: { first?: Uint8Array; concurrency?: number; tls?: boolean } = {}): Promise<Flood> {
  const sockets = new Set<net.Socket>()
  let connected = 0
  let failed = 0
  const one = () => new Promise<void>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress: ATTACKER })
    s.on('error', () => {})
    // Whatever the server answers is read and dropped, so its close is seen.
    s.resume()
    s.once('connect', () => {
      connected++
      sockets.add(s)
      if (opts.first) s.write(opts.first)
      resolve()
    })
    s.once('close', () => {
      sockets.delete(s)
      resolve()
    })
    s.once('error', () => {
      failed++
      resolve()
    })
    setTimeout(() => {
      if (s.connecting) {
        failed++
        s.destroy()
      }
    }, 3000)
  })
  await pool(n, opts.concurrency ?? 100, one)
  return { get connected() { return connected }, failed, open: () => sockets.size, close: () => sockets.forEach((s) => s.destroy()) }
}

/** Runs `task` `n` times, `concurrency` at once. */
export async function pool(n: number, concurrency: number, task: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: Math.min(n, concurrency) }, async () => {
    while (next < n) await task(next++).catch(() => {})
  }))
}

/** A connection from ATTACKER, TLS when `tlsOptions` are given. */
function dial(port: number, tlsOptions: tls.ConnectionOptions | undefined, onConnect: () => void): net.Socket {
  if (tlsOptions) return tls.connect({ host: '127.0.0.1', port, localAddress: ATTACKER, ...tlsOptions } as tls.ConnectionOptions, onConnect)
  return net.connect({ host: '127.0.0.1', port, localAddress: ATTACKER }, onConnect)
}

/** `n` tcp/tls hellos with a wrong token; resolves with how many got a refusal reply. */
export async function wrongTokenHellos(port: number, n: number, opts: { tls?: tls.ConnectionOptions } = {}): Promise<{ refused: number; replies: string[] }> {
  const hello = encodeClientHello({ codec: 'protobuf', token: 'wrong-token' })
  let refused = 0
  const replies = new Set<string>()
  await pool(n, 50, () => new Promise<void>((resolve) => {
    const s = dial(port, opts.tls, () => s.write(hello))
    let got = Buffer.alloc(0)
    s.on('data', (d: Buffer) => (got = Buffer.concat([got, d])))
    s.on('error', () => {})
    s.on('close', () => {
      if (got.length >= 10 && got[5] === 3) {
        refused++
        replies.add(got.subarray(10).toString())
      }
      resolve()
    })
    setTimeout(() => s.destroy(), 5000)
  }))
  return { refused, replies: [...replies] }
}

/** `n` WebSocket upgrades with a wrong token; counts the statuses. */
export async function wrongTokenUpgrades(port: number, path: string, n: number, opts: { tls?: tls.ConnectionOptions } = {}): Promise<Record<number, number>> {
  const statuses: Record<number, number> = {}
  await pool(n, 50, () => new Promise<void>((resolve) => {
    const req = [`GET ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Protocol: edgerelay.v1.protobuf', 'Authorization: Bearer wrong-token', '', ''].join('\r\n')
    const s = dial(port, opts.tls, () => s.write(req))
    let got = ''
    s.on('data', (d) => {
      got += d
      if (got.includes('\r\n\r\n')) s.destroy()
    })
    s.on('error', () => {})
    s.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(got)?.[1] ?? 0)
      statuses[status] = (statuses[status] ?? 0) + 1
      resolve()
    })
    setTimeout(() => s.destroy(), 5000)
  }))
  return statuses
}

const grpcFrames = grpcWire(protobufCodec)

/** gRPC calls on one HTTP/2 connection: `n` calls with `token` (or none), each sending `frames(i)`. */
export async function grpcCalls(port: number, n: number, opts: { token?: string; frames?: (call: number) => Frame[]; concurrency?: number; holdMs?: number } = {}): Promise<{ statuses: Record<string, number> }> {
  // A connection the server closed (GOAWAY) is replaced: the attack goes on on a new one.
  const sessions: http2.ClientHttp2Session[] = []
  let session!: http2.ClientHttp2Session
  const connect = () => {
    session = http2.connect(`http://127.0.0.1:${port}`, { localAddress: ATTACKER } as http2.SecureClientSessionOptions)
    session.on('error', () => {})
    session.on('goaway', () => connect())
    sessions.push(session)
  }
  connect()
  const statuses: Record<string, number> = {}
  await pool(n, opts.concurrency ?? 50, (i) => new Promise<void>((resolve) => {
    let req: http2.ClientHttp2Stream
    try {
      if (session.closed || session.destroyed) connect()
      req = session.request({ ':method': 'POST', ':path': '/edgerelay.v1.Tunnel/Relay', 'content-type': 'application/grpc', te: 'trailers', ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) })
    } catch {
      statuses.error = (statuses.error ?? 0) + 1
      return resolve()
    }
    let status = 'none'
    req.on('response', (h) => {
      if (h['grpc-status'] !== undefined) status = String(h['grpc-status'])
    })
    req.on('trailers', (h) => (status = String(h['grpc-status'])))
    req.on('data', () => {})
    req.on('error', () => {})
    req.on('close', () => {
      statuses[status] = (statuses[status] ?? 0) + 1
      resolve()
    })
    for (const f of opts.frames?.(i) ?? []) req.write(grpcFrames.encode(f))
    if (opts.holdMs) setTimeout(() => req.end(), opts.holdMs)
    else req.end()
    setTimeout(() => req.close(), 10_000)
  }))
  for (const s of sessions) s.destroy()
  return { statuses }
}

/** `flows` request frames, one per distinct flow id. */
export function manyFlows(flows: number, from = 1): Frame[] {
  const enc = new TextEncoder()
  return Array.from({ length: flows }, (_, i) => ({ flow: from + i, id: i + 1, kind: Kind.request, payload: enc.encode(`flood-${i}`) }) as Frame)
}

/** A tcp tunnel client (hello with `token`) that sends `frames`; resolves once written, returns the socket. */
export function tcpTunnel(port: number, frames: Frame[], token?: string): Promise<net.Socket> {
  const wire = lengthPrefixedWire(protobufCodec)
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress: ATTACKER }, () => {
      s.write(encodeClientHello({ codec: 'protobuf', token }))
      for (const f of frames) s.write(wire.encode(f))
      resolve(s)
    })
    s.on('data', () => {})
    s.on('error', reject)
  })
}

/**
 * A chunked POST of `bytes` to `path`, written by hand on a socket as fast as the server reads it.
 * Resolves with the status and how many bytes had been written when the answer came (or the
 * connection ended).
 */
export function bigHttpBody(port: number, path: string, bytes: number): Promise<{ status: number; sentBeforeAnswer: number }> {
  return new Promise((resolve) => {
    let sent = 0
    let status = 0
    let finished = false
    let head = ''
    const s = net.connect({ host: '127.0.0.1', port, localAddress: ATTACKER })
    const finish = () => {
      if (finished) return
      finished = true
      s.destroy()
      resolve({ status, sentBeforeAnswer: sent })
    }
    s.on('error', finish)
    s.on('close', finish)
    s.on('data', (d: Buffer) => {
      head += d.toString('latin1')
      const m = /^HTTP\/1\.1 (\d+)/.exec(head)
      if (m) {
        status = Number(m[1])
        finish()
      }
    })
    const chunk = Buffer.alloc(64 * 1024, 0x20)
    const framed = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')])
    const pump = () => {
      while (!finished && sent < bytes) {
        sent += chunk.length
        if (!s.write(framed)) return void s.once('drain', pump)
      }
      if (!finished) s.write('0\r\n\r\n')
    }
    s.on('connect', () => {
      s.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`)
      pump()
    })
    setTimeout(finish, 20_000)
  })
}

/**
 * One WebSocket binary message of `bytes` after a successful upgrade to `path`. Resolves with the
 * bytes written before the server closed (and its close code, if any).
 */
export function bigWsMessage(port: number, path: string, bytes: number, token?: string): Promise<{ upgraded: boolean; sentBeforeClose: number; closeCode?: number }> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress: ATTACKER })
    let sent = 0
    let upgraded = false
    let closeCode: number | undefined
    let head = Buffer.alloc(0)
    s.on('error', () => {})
    s.on('close', () => resolve({ upgraded, sentBeforeClose: sent, closeCode }))
    s.on('data', (d: Buffer) => {
      if (!upgraded) {
        head = Buffer.concat([head, d])
        const end = head.indexOf('\r\n\r\n')
        if (end < 0) return
        upgraded = head.subarray(0, 12).toString().includes('101')
        if (!upgraded) return void s.destroy()
        const rest = head.subarray(end + 4)
        if (rest.length >= 4 && (rest[0]! & 0x0f) === 8) closeCode = rest.readUInt16BE(2)
        return void startSending()
      }
      if ((d[0]! & 0x0f) === 8 && d.length >= 4) closeCode = d.readUInt16BE(2)
    })
    const startSending = () => {
      // Header of one masked binary frame of `bytes`, then the payload (mask of zeros: payload as is).
      const header = Buffer.alloc(14)
      header[0] = 0x82
      header[1] = 0x80 | 127
      header.writeBigUInt64BE(BigInt(bytes), 2)
      s.write(header)
      const chunk = Buffer.alloc(64 * 1024, 0x41)
      const pump = () => {
        while (sent < bytes && !s.destroyed) {
          sent += chunk.length
          if (!s.write(chunk)) return void s.once('drain', pump)
        }
      }
      pump()
    }
    s.on('connect', () => s.write([`GET ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Protocol: edgerelay.v1.protobuf', ...(token ? [`Authorization: Bearer ${token}`] : []), '', ''].join('\r\n')))
    setTimeout(() => s.destroy(), 20_000)
  })
}

/** Text of a masked client WebSocket frame (re-exported for attacks on message framing). */
export { encodeClientFrame }
