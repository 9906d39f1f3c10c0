/**
 * For the SOCKS5 and HTTP CONNECT tests: a near half with a proxy listener and a far half with
 * tcp/dial over one of the stream transports, the names the far half resolves (web.test,
 * localhost), a raw client for malformed handshakes, and a listener whose connections never
 * complete (for the timeout reply).
 */
import net from 'node:net'
import type { HalfOptions } from '../../mod.ts'
import { hostsResolver } from '../../src/net/resolver.ts'
import type { TestContext } from '../harness.ts'
import { concat } from './bytes.mjs'
import type { LoggedHalf } from './halves.ts'
import { PYTHON } from './python.ts'
import { startProcess } from './processes.ts'
import { streamHalves, type Transport } from './tcp-streams.ts'

/** The far half's hosts: names it resolves itself (nothing in the test process or the client knows web.test). */
export const FAR_HOSTS = '127.0.0.1 web.test localhost\n::1 web6.test\n'

export interface ProxyHalves {
  far: LoggedHalf
  near: LoggedHalf
  /** The proxy listener's port on 127.0.0.1. */
  port: number
}

/** A near half (`listener` → tunnel client) and a far half (tunnel server → tcp/dial with `allow`, resolving FAR_HOSTS). */
export function proxyHalves(t: TestContext, tr: Transport, listener: string, allow: string, opts: { far?: Partial<HalfOptions>; near?: Partial<HalfOptions> } = {}): Promise<ProxyHalves> {
  return streamHalves(t, tr, 'tcp/dial', listener, {
    far: { allow, resolver: hostsResolver(FAR_HOSTS, 'the test hosts'), ...opts.far },
    near: opts.near ?? {},
  })
}

/**
 * Connects to 127.0.0.1:port, writes each of `chunks` as the answer to the previous one arrives
 * (`expect[i]` bytes, or at once when 0), optionally half-closes, and collects everything until
 * the server ends the connection (`closed`), `stopAt` bytes have come, or `timeoutMs` passes.
 */
export function rawProxyExchange(port: number, chunks: Uint8Array[], opts: { expect?: number[]; end?: boolean; stopAt?: number; timeoutMs?: number } = {}): Promise<{ bytes: Uint8Array; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true })
    const got: Uint8Array[] = []
    let received = 0
    let next = 0
    let waitFor = 0
    const timer = setTimeout(() => finish(false), opts.timeoutMs ?? 5000)
    let done = false
    const finish = (closed: boolean) => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      resolve({ bytes: concat(got), closed })
    }
    const send = () => {
      while (next < chunks.length && received >= waitFor) {
        waitFor += opts.expect?.[next] ?? 0
        socket.write(chunks[next++]!)
      }
      if (next === chunks.length && opts.end) socket.end()
    }
    socket.on('connect', send)
    socket.on('data', (d: Buffer) => {
      got.push(new Uint8Array(d))
      received += d.length
      if (opts.stopAt !== undefined && received >= opts.stopAt) return finish(false)
      send()
    })
    socket.on('error', () => {})
    // The server's FIN or reset: it is done with this client.
    socket.on('end', () => finish(true))
    socket.on('close', () => finish(true))
  })
}

/**
 * A TCP port on 127.0.0.1 that never completes a connection: a listener with a backlog of 0 that
 * never accepts, its one place filled, so further SYNs are dropped and a connect runs into its
 * timeout (the SOCKS 0x06 / HTTP 504 case).
 */
export async function silentPort(t: TestContext): Promise<number> {
  const script = [
    'import socket, sys, time',
    's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)',
    'port = s.getsockname()[1]',
    'fill = socket.socket(); fill.connect(("127.0.0.1", port))',
    'print(port, flush=True)',
    'time.sleep(120)',
  ].join('\n')
  const proc = startProcess(t, [PYTHON, '-c', script])
  return Number((await proc.waitFor(/^\d+$/m, 10_000)).trim())
}
