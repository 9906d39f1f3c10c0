/**
 * Shared pieces of the scenario scripts that test/ns/*.test.ts run inside network namespaces, on
 * the runtime under test. A script runs named checks, each bounded by a timeout, and prints one
 * `RESULT {json}` line; the test file asserts on it. Plain node:dgram / node:net are used for
 * peers that need what the adapters do not offer (a connect()ed UDP client).
 */
import dgram from 'node:dgram'
import { execFile } from 'node:child_process'
import { runtime as defaultRuntime } from '#runtime'
import type { Runtime, UdpSocket } from '../../../src/ports/runtime.ts'
import { type Half, type HalfOptions, startHalf } from '../../../mod.ts'
import { waitFor } from '../../helpers/timing.mjs'

export type CheckResult = { ok: true; value: unknown } | { ok: false; error: string }

const results: Record<string, CheckResult> = {}
const cleanups: (() => unknown)[] = []

export const rt: Runtime = defaultRuntime

/** Runs one check; its cleanups run after it, whatever happens. */
export async function check(name: string, fn: () => Promise<unknown>, timeoutMs = 8000): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    const value = await Promise.race([fn(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs)))])
    results[name] = { ok: true, value: value ?? null }
  } catch (err) {
    const e = err as Error & { code?: string }
    results[name] = { ok: false, error: `${e?.code ?? ''} ${e?.stack ?? e}` }
  } finally {
    clearTimeout(timer)
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await c()
      } catch {
        // best effort
      }
    }
  }
}

export function defer(fn: () => unknown): void {
  cleanups.push(fn)
}

/** Prints the results and ends the process (lingering sockets must not keep it alive). */
export function finish(): never {
  console.log(`RESULT ${JSON.stringify(results)}`)
  process.exit(0)
}

export { waitFor, waitForLine } from '../../helpers/timing.mjs'

/** A half whose log lines are kept, closed when the check ends. */
export async function half(opts: HalfOptions): Promise<Half & { lines: string[] }> {
  const lines: string[] = []
  const h = await startHalf({ logLevel: 'debug', ...opts, runtime: rt, logger: (_l, line) => lines.push(line) })
  defer(() => h.close())
  return Object.assign(h, { lines })
}

/** A UDP echo device (on 127.0.0.1 unless told) answering `reply:` + data; counts what it got. */
export async function echoDevice(address = '127.0.0.1', port = 0): Promise<{ port: number; got: string[] }> {
  const got: string[] = []
  let s!: UdpSocket
  s = await rt.bindUdp({
    address,
    port,
    family: address.includes(':') ? 6 : 4,
    onMessage(data, address, port) {
      const text = new TextDecoder().decode(data)
      got.push(text)
      s.send(new TextEncoder().encode(`reply:${text}`), port, address)
    },
  })
  defer(() => s.close())
  return { port: s.local.port, got }
}

export interface ConnectedSocket {
  /** What came back so far (the kernel drops datagrams from any other source than address:port). */
  got: { reply: string; from: string }[]
  /** Set when the socket failed (a connect() that could not be made, for one). */
  failed(): boolean
  close(): void
}

/** A UDP socket `connect()`ed to address:port that has sent `text`; it keeps what comes back. */
export function connectedSocket(address: string, port: number, text: string, bindAddress?: string): Promise<ConnectedSocket> {
  return new Promise((resolve) => {
    const s = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4')
    const got: ConnectedSocket['got'] = []
    let failed = false
    let closed = false
    const handle: ConnectedSocket = {
      got,
      failed: () => failed,
      close() {
        if (!closed) s.close()
        closed = true
      },
    }
    s.on('error', () => {
      failed = true
      handle.close()
      resolve(handle)
    })
    s.on('message', (msg, rinfo) => got.push({ reply: msg.toString(), from: rinfo.address }))
    s.bind({ port: 0, address: bindAddress }, () => {
      // A failed connect is reported through 'error' (handled above).
      s.connect(port, address, () => s.send(text, () => resolve(handle)))
    })
  })
}

/**
 * Sends `text` from a UDP socket `connect()`ed to address:port (so the kernel drops replies from
 * any other source) and resolves with the reply, or undefined when none came within `waitMs`.
 */
export async function connectedRequest(address: string, port: number, text: string, waitMs = 1500, bindAddress?: string): Promise<{ reply: string; from: string } | undefined> {
  const s = await connectedSocket(address, port, text, bindAddress)
  try {
    await waitFor(() => s.got.length > 0 || s.failed(), 'a reply', waitMs, 5).catch(() => {})
    return s.got[0]
  } finally {
    s.close()
  }
}

/** Sends `text` to address:port from a socket of its own, expecting nothing back. */
export function send(address: string, port: number, text: string): Promise<void> {
  return new Promise((resolve) => {
    const s = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4')
    s.bind(0, () => s.send(text, port, address, () => {
      s.close()
      resolve()
    }))
  })
}

/** An unconnected request: the reply is accepted from anyone, and `from` says who answered. */
export function request(address: string, port: number, text: string, waitMs = 1500): Promise<{ reply: string; from: string } | undefined> {
  return new Promise((resolve) => {
    const s = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4')
    const timer = setTimeout(() => done(undefined), waitMs)
    const done = (v: { reply: string; from: string } | undefined) => {
      clearTimeout(timer)
      s.close()
      resolve(v)
    }
    s.on('message', (msg, rinfo) => done({ reply: msg.toString(), from: rinfo.address }))
    s.bind(0, () => s.send(text, port, address))
  })
}

/** Runs a command (inside the namespace: `ip`, `ss`), resolving with stdout. */
export function sh(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => execFile(cmd, args, (err, stdout, stderr) => (err ? reject(new Error(`${cmd} ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout))))
}

/** Number of TCP sockets in a state (`ss -Htn state syn-sent`), optionally to/from a port. */
export async function ssCount(state: string, port?: number): Promise<number> {
  const filter = port === undefined ? [] : [`( dport = :${port} or sport = :${port} )`]
  const out = await sh('ss', ['-Htn', 'state', state, ...filter])
  return out.split('\n').filter((l) => l.trim()).length
}

/** Whether a TCP connect to address:port succeeds within 1 s (errno otherwise). */
export async function tcpConnects(address: string, port: number): Promise<true | string> {
  const signal = AbortSignal.timeout(1000)
  try {
    const c = await rt.connectTcp({ address, port, signal })
    c.destroy()
    return true
  } catch (err) {
    return (err as { code?: string }).code ?? (err as Error).name
  }
}
