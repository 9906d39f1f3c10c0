/**
 * What the uhppoted-tunnel drop-in tests share: its example TOML made runnable (ports mapped to
 * free ones, run in a folder with its default TLS files and html folder), UHPPOTE controller
 * stand-ins on loopback (UDP and TCP, like uhppote-simulator), and its framing byte for byte.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestContext, waitFor } from '../harness.ts'
import { testCerts } from './certs.ts'
import { freePort } from './free-ports.mjs'
import { CLI, ROOT } from './processes.ts'
import { udpPeer } from './udp.ts'

/**
 * The CLI command for running in another folder (the example's relative ./ca.cert and html):
 * Node's `--import tsx` would be looked up from that folder, so it names tsx's loader by path.
 */
export function cliElsewhere(runtime: keyof typeof CLI): string[] {
  return CLI[runtime].map((arg) => (arg === 'tsx' ? `file://${ROOT}node_modules/tsx/dist/loader.mjs` : arg))
}

export interface Materialized {
  dir: string
  file: string
  /** The fixture's port → the free port that replaced it. */
  port(original: number): number
}

/** Copies a fixture into a fresh folder with every `:<port>"` mapped to a free port, plus ./ca.cert, ./server.*, ./client.* and ./examples/html. */
export async function materialize(name: string): Promise<Materialized> {
  const text = readFileSync(new URL(`../fixtures/uhppoted-tunnel/${name}`, import.meta.url), 'utf8')
  const map = new Map<number, number>()
  for (const m of text.matchAll(/:(\d{4,5})"/g)) {
    const p = Number(m[1])
    if (!map.has(p)) map.set(p, await freePort())
  }
  const dir = mkdtempSync(join(tmpdir(), 'edgerelay-uhppoted-'))
  const file = join(dir, 'uhppoted-tunnel.toml')
  writeFileSync(file, text.replace(/:(\d{4,5})"/g, (_, p) => `:${map.get(Number(p))}"`))
  const certs = testCerts().files
  for (const [from, to] of [[certs.ca, 'ca.cert'], [certs.serverCert, 'server.cert'], [certs.serverKey, 'server.key'], [certs.clientCert, 'client.cert'], [certs.clientKey, 'client.key']] as const) {
    copyFileSync(from, join(dir, to))
  }
  mkdirSync(join(dir, 'examples', 'html'), { recursive: true })
  writeFileSync(join(dir, 'examples', 'html', 'index.html'), '<title>uhppoted-tunnel</title>')
  return { dir, file, port: (p) => map.get(p)! }
}

/** A 64-byte UHPPOTE request: function code `fn` for controller `serial`. */
export function uhppoteRequest(fn: number, serial: number): Uint8Array {
  const b = new Uint8Array(64)
  b[0] = 0x17
  b[1] = fn
  new DataView(b.buffer).setUint32(4, serial, true)
  return b
}

/** The reply a controller stand-in gives: the request with byte 8.. marking who answered. */
export function uhppoteReply(request: Uint8Array, mark: number): Uint8Array {
  const r = Uint8Array.from(request)
  r[8] = mark
  return r
}

/** uhppoted-tunnel's framing (its protocol/message.go): u16 length, u32 id (big-endian), the datagram. */
export function uhppotedFrame(id: number, payload: Uint8Array | string): Uint8Array {
  const p = typeof payload === 'string' ? new TextEncoder().encode(payload) : payload
  const f = new Uint8Array(6 + p.length)
  const v = new DataView(f.buffer)
  v.setUint16(0, p.length)
  v.setUint32(2, id)
  f.set(p, 6)
  return f
}

export interface Controller {
  received: Uint8Array[]
  waitCount(n: number, timeoutMs?: number): Promise<void>
}

/** A UDP controller stand-in on `address:port` answering each 64-byte request once, marked `mark`. */
export async function udpController(t: TestContext, address: string, port: number, mark: number): Promise<Controller> {
  const peer = await udpPeer(t, { address, port, onMessage: (p, data, from, fromPort) => p.send(uhppoteReply(data, mark), fromPort, from) })
  return {
    get received() {
      return peer.received.map((r) => Uint8Array.from(r.data))
    },
    waitCount: (n, timeoutMs) => peer.waitCount(n, timeoutMs),
  }
}

/** A TCP controller stand-in (UHPPOTE controllers take the same 64 bytes over TCP). */
export async function tcpController(t: TestContext, address: string, port: number, mark: number): Promise<Controller> {
  const received: Uint8Array[] = []
  const open = new Set<net.Socket>()
  const server = net.createServer((sock) => {
    open.add(sock)
    sock.on('close', () => open.delete(sock))
    let buf = new Uint8Array(0)
    sock.on('data', (d: Buffer) => {
      buf = Uint8Array.from([...buf, ...d])
      while (buf.length >= 64) {
        const req = Uint8Array.from(buf.subarray(0, 64))
        buf = buf.slice(64)
        received.push(req)
        sock.write(uhppoteReply(req, mark))
      }
    })
    sock.on('error', () => {})
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, address, () => resolve())
  })
  t.defer(() => new Promise<void>((r) => {
    for (const s of open) s.destroy()
    server.close(() => r())
  }))
  return { received, waitCount: (n, timeoutMs = 5000) => waitFor(() => received.length >= n, `${n} requests on ${address}:${port}`, timeoutMs).then(() => {}) }
}
