/**
 * The halves a CLI process runs, one per configuration (a TOML table, or the command line), kept
 * by the table's name so that a reload can tell which changed: changed ones restart, new ones
 * start, removed ones stop, and untouched ones keep their connections and flows.
 */
import { Backoff, sleepUnlessAborted } from '../base/backoff.ts'
import { parseDuration } from '../base/duration.ts'
import type { RelayError } from '../base/errors.ts'
import type { Logger } from '../base/logger.ts'
import type { Half, HalfSettings } from '../half/start-half.ts'

/** One configuration to run. */
export interface HalfConfig {
  /** Its name and identity: `command line`, or `file [section]`. */
  where: string
  options: HalfSettings
  /** Everything that makes it what it is (options and the contents of the files they name): equal means unchanged. */
  fingerprint: string
}

export interface RunningDeps<C extends HalfConfig> {
  /** Starts one half (the runtime, log sink and lifetime are the caller's). */
  start(config: C, signal: AbortSignal): Promise<Half>
  /** Takes what a half needs besides itself (its lockfile); the returned function gives it back. */
  acquire(config: C): () => void
  log: Logger
}

/** What a reload did, by table name. */
export interface ReloadSummary {
  kept: string[]
  restarted: string[]
  started: string[]
  stopped: string[]
  /** Tables whose new configuration did not start; `restored`: the old one runs again. */
  failed: { where: string; error: string; restored: boolean }[]
}

interface Entry<C extends HalfConfig> {
  config: C
  half?: Half
  stop: AbortController
  supervisor: Promise<void>
  release: () => void
}

export class RunningHalves<C extends HalfConfig> {
  private readonly entries = new Map<string, Entry<C>>()
  private readonly deps: RunningDeps<C>
  private readonly signal: AbortSignal
  private onFatal!: (err: Error) => void
  /** Rejects with the error of the first half that stopped for good (retries used up). */
  readonly fatal: Promise<never>

  constructor(deps: RunningDeps<C>, signal: AbortSignal) {
    this.deps = deps
    this.signal = signal
    this.fatal = new Promise<never>((_, reject) => (this.onFatal = reject))
    this.fatal.catch(() => {})
  }

  /** The halves running now (a table waiting for its network interface has none). */
  halves(): Half[] {
    return [...this.entries.values()].flatMap((e) => (e.half ? [e.half] : []))
  }

  /**
   * Starts `config`'s half and keeps it running. Throws what its start threw, except a missing
   * network interface, which is waited for (as uhppoted-tunnel does).
   */
  async add(config: C): Promise<void> {
    const release = this.deps.acquire(config)
    const stop = new AbortController()
    const signal = AbortSignal.any([this.signal, stop.signal])
    let half: Half | undefined
    let firstError: Error | undefined
    try {
      half = await this.deps.start(config, signal)
    } catch (err) {
      if ((err as RelayError).code !== 'E_NO_SUCH_INTERFACE') {
        release()
        throw err
      }
      firstError = err as Error
    }
    const entry: Entry<C> = { config, half, stop, release, supervisor: Promise.resolve() }
    this.entries.set(config.where, entry)
    entry.supervisor = this.supervise(entry, signal, firstError).catch((err: Error) => {
      if (!signal.aborted) this.onFatal(err)
    })
  }

  /** Stops the half of `where` and forgets it. */
  async remove(where: string): Promise<void> {
    const entry = this.entries.get(where)
    if (!entry) return
    this.entries.delete(where)
    entry.stop.abort()
    await entry.half?.close()
    await entry.supervisor
    entry.release()
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.entries.keys()].map((where) => this.remove(where)))
  }

  /** Rescans local addresses (SIGHUP: udp/listen:* binds new ones). */
  rescan(): void {
    for (const h of this.halves()) void h.rescan()
  }

  /** Moves to `configs`: restarts what changed, starts what is new, stops what is gone. */
  async reload(configs: C[]): Promise<ReloadSummary> {
    const summary: ReloadSummary = { kept: [], restarted: [], started: [], stopped: [], failed: [] }
    const wanted = new Map(configs.map((c) => [c.where, c]))
    // Stop what is gone first: a table renamed keeps its port and must find it free.
    for (const where of [...this.entries.keys()]) {
      if (wanted.has(where)) continue
      await this.remove(where)
      summary.stopped.push(where)
    }
    for (const config of configs) {
      const old = this.entries.get(config.where)
      if (old && old.config.fingerprint === config.fingerprint) {
        summary.kept.push(config.where)
        continue
      }
      if (old) await this.remove(config.where)
      try {
        await this.add(config)
        ;(old ? summary.restarted : summary.started).push(config.where)
      } catch (err) {
        let restored = false
        if (old) {
          await this.add(old.config).then(() => (restored = true), (again: Error) => this.deps.log.error(`${config.where}: the old configuration did not start again either: ${again.message}`))
        }
        summary.failed.push({ where: config.where, error: (err as Error).message, restored })
      }
    }
    return summary
  }

  /** Keeps one table's half running; a missing network interface is retried with backoff. */
  private async supervise(entry: Entry<C>, signal: AbortSignal, firstError?: Error): Promise<void> {
    const { options, where } = entry.config
    const backoff = new Backoff({ initialMs: 1000, maxMs: parseDuration(options.maxRetryDelay ?? '5m', 'max-retry-delay'), maxRetries: options.maxRetries ?? -1 })
    let error = firstError
    for (;;) {
      if (entry.half) {
        try {
          await entry.half.done
          return
        } catch (err) {
          if (signal.aborted) return
          if ((err as RelayError).code !== 'E_NO_SUCH_INTERFACE') throw err
          error = err as Error
        }
      }
      const delay = backoff.next()
      if (delay === undefined) throw error
      this.deps.log.warn(`${where}: ${error!.message}: retrying in ${delay} ms`)
      if (!(await sleepUnlessAborted(delay, signal))) return
      try {
        entry.half = await this.deps.start(entry.config, signal)
        backoff.reset()
      } catch (err) {
        if (signal.aborted) return
        if ((err as RelayError).code !== 'E_NO_SUCH_INTERFACE') throw err
        entry.half = undefined
        error = err as Error
      }
    }
  }
}

/** One log line for a reload. */
export function describeReload(s: ReloadSummary): string {
  const part = (label: string, names: string[]) => (names.length ? [`${label} ${names.join(', ')}`] : [])
  const parts = [...part('restarted', s.restarted), ...part('started', s.started), ...part('stopped', s.stopped), ...part('kept', s.kept)]
  const failed = s.failed.map((f) => `${f.where} did not start (${f.error})${f.restored ? ', its old configuration runs again' : ''}`)
  return `reloaded: ${[...parts, ...failed].join('; ') || 'nothing to do'}`
}
