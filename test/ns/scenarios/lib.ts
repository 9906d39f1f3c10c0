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

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** A half whose log lines are kept, closed when the check ends. */
export async function half(opts: HalfOptions): Promise<Half & { lines: string[] }> {
  const lines: string[] = []
  const h = await startHalf({ logLevel: 'debug', ...opts, runtime: rt, logger: (_l, line) => lines.push(line) })
  defer(() => h.close())
  return Object.assign(h, { lines })
}

/** Waits until a log line matches; returns the time it took. */
export async function waitLine(lines: string[], re: RegExp, timeoutMs = 5000): Promise<string> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const l = lines.find((x) => re.test(x))
    if (l) return l
    if (Date.now() > end) throw new Error(`no log line ${re} within ${timeoutMs} ms:\n${lines.join('\n')}`)
    await sleep(5)
  }
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

/**
 * Sends `text` from a UDP socket `connect()`ed to address:port (so the kernel drops replies from
 * any other source) and resolves with the reply, or undefined after `waitMs`.
 */
export function connectedRequest(address: string, port: number, text: string, waitMs = 1500, bindAddress?: string): Promise<{ reply: string; from: string } | undefined> {
  return new Promise((resolve) => {
    const s = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4')
    const done = (v: { reply: string; from: string } | undefined) => {
      clearTimeout(timer)
      try {
        s.close()
      } catch {
        // closed already
      }
      resolve(v)
    }
    const timer = setTimeout(() => done(undefined), waitMs)
    s.on('error', () => done(undefined))
    s.on('message', (msg, rinfo) => done({ reply: msg.toString(), from: rinfo.address }))
    s.bind({ port: 0, address: bindAddress }, () => {
      // A failed connect is reported through 'error' (handled above).
      s.connect(port, address, () => s.send(text))
    })
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
