/**
 * Real TCP peers for the stream tests: an echo server (optionally greeting first, as ssh does),
 * an HTTP server with a known body, and a client that sends, half-closes and collects.
 */
import { createHash } from 'node:crypto'
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import type { TestContext } from '../harness.ts'
import { half, type LoggedHalf } from './halves.ts'
import { CONFORMANCE, clientSide, serverSide } from './transports.ts'
import type { HalfOptions } from '../../mod.ts'
import { waitFor } from '../harness.ts'

export interface EchoServer {
  port: number
  /** Connections accepted so far. */
  accepted: number
  /** How each connection ended: 'end' (FIN), or the error code (ECONNRESET). */
  endings: string[]
}

/** Echoes every byte; answers a FIN with a FIN once everything is echoed. `banner` is sent first. */
export async function echoServer(t: TestContext, opts: { banner?: string } = {}): Promise<EchoServer> {
  const sockets = new Set<net.Socket>()
  const state: EchoServer = { port: 0, accepted: 0, endings: [] }
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    state.accepted++
    sockets.add(s)
    if (opts.banner) s.write(opts.banner)
    s.on('data', (d) => s.write(d))
    s.on('end', () => {
      state.endings.push('end')
      s.end()
    })
    s.on('error', (err: NodeJS.ErrnoException) => state.endings.push(err.code ?? err.message))
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  state.port = (server.address() as net.AddressInfo).port
  t.defer(() => {
    for (const s of sockets) s.destroy()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return state
}

/** A deterministic body of `size` bytes (a repeating pattern, not all zeros). */
export function pattern(size: number, seed = 7): Uint8Array {
  const out = new Uint8Array(size)
  let x = seed
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    out[i] = x >>> 24
  }
  return out
}

export const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex')

/** Connects, writes `data`, half-closes, and collects everything until the server's FIN. */
export function exchange(port: number, data: Uint8Array, opts: { timeoutMs?: number; host?: string } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ port, host: opts.host ?? '127.0.0.1', allowHalfOpen: true })
    const chunks: Buffer[] = []
    const timer = setTimeout(() => {
      c.destroy()
      reject(new Error(`no end of the exchange within ${opts.timeoutMs ?? 15_000} ms (got ${chunks.reduce((n, b) => n + b.length, 0)} bytes)`))
    }, opts.timeoutMs ?? 15_000)
    c.on('data', (d: Buffer) => chunks.push(d))
    c.on('end', () => {
      clearTimeout(timer)
      c.end()
      resolve(Buffer.concat(chunks))
    })
    c.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    c.write(data, () => c.end())
  })
}

/** An HTTP server answering GET /body with `size` bytes of pattern(); HTTPS with `tls` (PEM certificate and key). */
export async function httpServer(t: TestContext, size: number, opts: { tls?: { cert: string; key: string } } = {}): Promise<{ port: number; body: Uint8Array }> {
  const body = pattern(size, 11)
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (req.url !== '/body') {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) })
    res.end(body)
  }
  const server = opts.tls ? https.createServer(opts.tls, handler) : http.createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.defer(() => {
    server.closeAllConnections?.()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return { port: (server.address() as net.AddressInfo).port, body }
}

export interface Transport {
  name: string
  server: string
  client(port: number): string
  far?: Partial<HalfOptions>
  near?: Partial<HalfOptions>
}

/** Every tunnel transport streams must work over (the conformance table's rows), with the options each needs. */
export function transports(): Transport[] {
  return CONFORMANCE.map((tr) => {
    const server = serverSide(tr, '127.0.0.1', 0)
    const client = (port: number) => clientSide(tr, '127.0.0.1', port)
    return { name: tr.name, server: server.connector, client: (p) => client(p).connector, far: { tls: server.tls }, near: { tls: client(0).tls } }
  })
}

/** A far half (transport server → `farOut`) and a near half (`nearIn` → transport client), connected. */
export async function streamHalves(t: TestContext, tr: Transport, farOut: string, nearIn = 'tcp/listen:127.0.0.1:0', opts: { far?: Partial<HalfOptions>; near?: Partial<HalfOptions> } = {}): Promise<{ far: LoggedHalf; near: LoggedHalf; port: number }> {
  const far = await half(t, { in: tr.server, out: farOut, ...tr.far, ...opts.far })
  const near = await half(t, { in: nearIn, out: tr.client(far.inAddresses()[0]!.port), ...tr.near, ...opts.near })
  await waitFor(() => near.stats.get('tunnel.connected') >= 1, `the near half to connect over ${tr.name}`)
  return { far, near, port: near.inAddresses()[0]!.port }
}
