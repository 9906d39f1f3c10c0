/**
 * --workers N: N processes, each running every half of the command line or file, all listening on
 * the same ports with SO_REUSEPORT, so the kernel spreads connections (and UDP clients, by source
 * address and port) over every core. This process becomes their primary: it starts them with the
 * same command line, passes signals on (SIGTERM, SIGINT, SIGHUP), serves one metrics port for all
 * of them (each series labelled `worker`), and stops them all when one of them stops on its own.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import process from 'node:process'
import { formatAddress } from '../base/address.ts'
import { RelayError } from '../base/errors.ts'
import type { Logger } from '../base/logger.ts'
import type { Runtime, SocketAddress } from '../ports/runtime.ts'
import { parseConnector } from '../net/connector-string.ts'
import type { HalfSettings } from '../half/start-half.ts'
import { describeMetrics, serveMetrics } from '../half/metrics-server.ts'
import { mergeMetrics } from '../half/metrics-merge.ts'
import { exitCodeFor } from './exit-codes.ts'
import { exit, onReloadSignal, onShutdownSignal } from './host.ts'

const INDEX_ENV = 'EDGERELAY_WORKER'
const DIR_ENV = 'EDGERELAY_WORKER_DIR'
const MAX_WORKERS = 64

/** This process's number (1..N) when a --workers primary started it. */
export function workerIndex(): number | undefined {
  const v = process.env[INDEX_ENV]
  return v === undefined ? undefined : Number(v)
}

/** --workers: a whole number from 1 to 64 (default 1). */
export function workerCount(options: Record<string, unknown>): number {
  const v = options.workers
  if (v === undefined) return 1
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN
  if (!(n >= 1 && n <= MAX_WORKERS)) throw new RelayError('E_CONFIG', `--workers must be a whole number from 1 to ${MAX_WORKERS}, not '${v}'`)
  return n
}

/** Which kinds of listening socket a half opens: what its workers must share. */
function sharedSockets(options: HalfSettings): Set<'tcp' | 'udp'> {
  const kinds = new Set<'tcp' | 'udp'>()
  for (const [side, value] of [['in', options.in], ['out', options.out]] as const) {
    if (typeof value !== 'string') continue
    const spec = parseConnector(value)
    if (spec.kind === 'udp' && (spec.role === 'listen' || spec.role === 'p2p' || (spec.role === 'event' && side === 'in'))) kinds.add('udp')
    if (spec.role === 'server' || spec.kind === 'http' || spec.kind === 'https') kinds.add('tcp')
  }
  return kinds
}

/** Refuses, with what to do instead, what --workers cannot do here. */
export function checkWorkers(runtime: Runtime, configs: { where: string; options: HalfSettings }[], count: number, socketActivated: boolean): void {
  const what = `--workers ${count}`
  if (runtime.name === 'deno') throw new RelayError('E_CONFIG', `${what} is not available on Deno (each worker would need --allow-run and the same permission flags): run it with Node 22.12+ or Bun, or start ${count} Deno processes yourself`)
  if (socketActivated) throw new RelayError('E_CONFIG', `${what} with systemd socket activation: the passed sockets cannot be shared between processes; use one or the other`)
  for (const { where, options } of configs) {
    for (const kind of sharedSockets(options)) {
      if (runtime.capabilities.reusePort[kind]) continue
      const who = runtime.name === 'node' ? `Node ${process.versions.node} (SO_REUSEPORT needs Node 22.12 or later)` : runtime.name
      throw new RelayError('E_CONFIG', `${what}: ${where} listens on ${kind.toUpperCase()}, and ${who} cannot share a ${kind.toUpperCase()} port between processes; use --workers 1${kind === 'udp' ? ', or Node 22.12+' : ', or Node 22.12+ or Bun'}`)
    }
  }
}

/** A worker's side: where its metrics port is, for the primary to read. */
export function announceWorkerMetrics(addresses: SocketAddress[]): void {
  const dir = process.env[DIR_ENV]
  const index = workerIndex()
  if (dir === undefined || index === undefined || addresses.length === 0) return
  writeFileSync(join(dir, `worker-${index}.metrics`), formatAddress(addresses[0]!))
}

/** The command that started this process, to start the same in each worker. */
function ownCommand(): string[] {
  const script = process.argv[1]
  // A `bun build --compile` binary has its entry inside itself (/$bunfs/...), not as an argument.
  const entry = script && !script.startsWith('/$bunfs/') ? [script] : []
  return [process.execPath, ...process.execArgv, ...entry, ...process.argv.slice(2)]
}

/** GET or POST `path` on a worker's metrics port. */
async function ask(address: string, path: string, method = 'GET'): Promise<{ status: number; text: string }> {
  const r = await fetch(`http://${address}${path}`, { method, signal: AbortSignal.timeout(60_000) })
  return { status: r.status, text: await r.text() }
}

export interface PrimaryOptions {
  count: number
  log: Logger
  runtime: Runtime
  /** The --metrics address, served here for every worker. */
  metrics?: string
  /** Runs before this process exits (the lockfiles, the --pid file). */
  cleanup(): void
}

/** Starts the workers and supervises them until a signal or one of them stops; exits with its code. */
export async function runPrimary(o: PrimaryOptions): Promise<never> {
  const dir = mkdtempSync(join(tmpdir(), 'edgerelay-workers-'))
  const [cmd, ...args] = ownCommand()
  const workers: ChildProcess[] = []
  const exited: Promise<number>[] = []
  let stopping = false
  const finish = (code: number): never => {
    rmSync(dir, { recursive: true, force: true })
    o.cleanup()
    return exit(code)
  }
  const stopAll = async (signal: NodeJS.Signals) => {
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill(signal)
    await Promise.all(exited)
  }
  onShutdownSignal(async (signal) => {
    stopping = true
    o.log.info(`${signal} received, stopping ${o.count} workers`)
    await stopAll('SIGTERM')
    finish(0)
  })
  onReloadSignal(() => {
    for (const w of workers) w.kill('SIGHUP')
  })
  for (let i = 1; i <= o.count; i++) {
    const env = { ...process.env, [INDEX_ENV]: String(i), [DIR_ENV]: dir }
    const child = spawn(cmd!, args, { stdio: 'inherit', env })
    workers.push(child)
    exited.push(new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)))))
    o.log.info(`worker ${i} of ${o.count} started (PID ${child.pid})`)
  }
  exited.forEach((done, i) => void done.then(async (code) => {
    if (stopping) return
    stopping = true
    o.log.error(`worker ${i + 1} stopped (exit code ${code}): stopping the others`)
    await stopAll('SIGTERM')
    finish(code === 0 ? 1 : code)
  }))
  if (o.metrics !== undefined) {
    const workerAddress = (i: number): string | undefined => {
      try {
        return readFileSync(join(dir, `worker-${i}.metrics`), 'utf8')
      } catch {
        return undefined
      }
    }
    const each = <T>(fn: (i: number, address: string | undefined) => Promise<T>) => Promise.all(workers.map((_, k) => fn(k + 1, workerAddress(k + 1))))
    try {
      const server = await serveMetrics({
        runtime: o.runtime,
        address: o.metrics,
        halves: () => [],
        collect: async () => {
          const answers = await each(async (i, address) => {
            if (!address) return { i, error: 'starting' }
            try {
              const [metrics, health] = [await ask(address, '/metrics'), await ask(address, '/healthz')]
              return { i, text: metrics.text, health }
            } catch (err) {
              return { i, error: `not answering (${(err as Error).message})` }
            }
          })
          return {
            text: mergeMetrics(answers.flatMap((a) => ('text' in a ? [{ worker: String(a.i), text: a.text! }] : []))),
            notReady: answers.flatMap((a) => ('error' in a ? [`worker ${a.i}: ${a.error}`] : a.health!.status === 200 ? [] : a.health!.text.trim().split('\n').slice(1).map((l) => `worker ${a.i}: ${l}`))),
          }
        },
        routes: {
          'POST /reload': async () => {
            const answers = await each(async (i, address) => {
              if (!address) return { status: 503, text: `worker ${i}: starting` }
              const r = await ask(address, '/reload', 'POST').catch((err: Error) => ({ status: 503, text: err.message }))
              return { status: r.status, text: `worker ${i}: ${r.text.trim()}` }
            })
            const status = answers.some((a) => a.status === 422) ? 422 : Math.max(...answers.map((a) => a.status))
            return new Response(`${answers.map((a) => a.text).join('\n')}\n`, { status, headers: { 'content-type': 'text/plain; charset=utf-8' } })
          },
        },
        warn: (m) => o.log.warn(m),
      })
      o.log.info(`metrics of ${o.count} workers on ${describeMetrics(server)}, readiness on /healthz`)
    } catch (err) {
      stopping = true
      await stopAll('SIGTERM')
      o.log.error(`--metrics ${o.metrics}: ${(err as Error).message}`, { code: (err as RelayError).code })
      finish(exitCodeFor(err))
    }
  }
  return new Promise<never>(() => {})
}
