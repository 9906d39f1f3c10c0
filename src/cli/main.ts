/**
 * The edgerelay command: parses the command line (and TOML config), starts one half per
 * configuration, and stops them all on SIGINT/SIGTERM. `daemonize`/`undaemonize` write and remove
 * a systemd unit.
 */
import { runtime } from '#runtime'
import { startHalf, type Half, type HalfSettings } from '../half/start-half.ts'
import { Backoff, sleepUnlessAborted } from '../base/backoff.ts'
import { parseDuration } from '../base/duration.ts'
import { RelayError } from '../base/errors.ts'
import { createLogger, type Logger } from '../base/logger.ts'
import { parseConnector } from '../net/connector-string.ts'
import { parseArgs } from './args.ts'
import { type ConfigSection, DEFAULT_CONFIG_FILE, loadConfig, splitConfigArg } from './config.ts'
import { daemonize, undaemonize } from './daemonize.ts'
import { cliLine, useLogFormat } from './cli-lines.ts'
import { startMetrics } from './metrics-option.ts'
import { activatedRuntime } from './socket-activation.ts'
import { warnTokenOnCommandLine } from './secrets.ts'
import { checkDuplicateListens } from './duplicate-listen.ts'
import { exitCodeFor, EXIT } from './exit-codes.ts'
import { toHalfOptions } from './half-options.ts'
import { HELP, VERSION, versionLine } from './help.ts'
import { argv, cwd, exit, fileExists, onReloadSignal, onShutdownSignal, pid, print, printError, readText } from './host.ts'
import { acquireLock, defaultLockfile, type HeldLock } from './lockfile.ts'
import { setUpProcess } from './process-options.ts'

interface Configured {
  where: string
  options: HalfSettings
  /** The connector strings as written (the default lockfile's name hashes them, as uhppoted-tunnel does). */
  inText: string
  outText: string
  lockfile?: string
  removeLockfile: boolean
}

let cleanups: (() => void)[] = []

function fail(err: unknown): never {
  printError(cliLine('error', `${(err as Error)?.message ?? err}`, err instanceof RelayError ? err.code : undefined))
  for (const fn of cleanups) fn()
  return exit(exitCodeFor(err))
}

/** The sections to run: from --config, or the default file's [defaults] (as uhppoted-tunnel), or the command line alone. */
function sectionsFor(options: Record<string, string | boolean>, log: Logger): { file?: string; sections: ConfigSection[] } {
  let file: string | undefined
  let section: string | undefined
  if (typeof options.config === 'string') {
    ;({ file, section } = splitConfigArg(options.config))
  } else if (fileExists(DEFAULT_CONFIG_FILE)) {
    file = DEFAULT_CONFIG_FILE
    section = 'defaults'
    log.info(`using [defaults] of ${file} under the command line, as uhppoted-tunnel does without --config`)
  }
  if (file === undefined) return { sections: [{ name: 'command line', options: {}, namesCodec: false }] }
  let text: string
  try {
    text = readText(file)
  } catch (cause) {
    throw new RelayError('E_CONFIG', `cannot read config file '${file}': ${(cause as Error).message}`, { cause })
  }
  const sections = loadConfig(text, file, section, (line) => log.warn(line))
  if (section === undefined) {
    log.info(`${file}: no section given, running every table with 'in' (${sections.map((s) => `[${s.name}]`).join(', ')}), one half each; uhppoted-tunnel would run [defaults] alone`)
  }
  return { file, sections }
}

function configurations(options: Record<string, string | boolean>, log: Logger): Configured[] {
  const { config: _, ...overrides } = options
  const { file, sections } = sectionsFor(options, log)
  return sections.map((s) => {
    const where = file === undefined ? 'command line' : `${file} [${s.name}]`
    const merged: Record<string, string | boolean> = { ...s.options, ...overrides }
    // uhppoted-tunnel's files name no codec, and its servers speak only its own framing: a half
    // that dials one (tcp/client, tls/client) uses it. Servers keep `auto`, which serves both.
    if (file !== undefined && !s.namesCodec && overrides.codec === undefined && [merged.in, merged.out].some(dialsTunnel)) {
      merged.codec = 'uhppoted'
      log.info(`${where}: no codec named: using --codec uhppoted (uhppoted-tunnel's framing, what its servers speak); set codec = "protobuf" there for edgerelay peers`)
    }
    const settings = toHalfOptions(merged, where, { controllers: s.controllers, interfaces: s.interfaces, note: (line) => log.info(line) })
    const lockfile = typeof merged.lockfile === 'string' && merged.lockfile !== '' ? merged.lockfile : undefined
    return { where, options: settings, inText: merged.in as string, outText: merged.out as string, lockfile, removeLockfile: merged['remove-lockfile'] === true || merged['remove-lockfile'] === 'true' }
  })
}

function dialsTunnel(text: string | boolean | undefined): boolean {
  return typeof text === 'string' && /^(tcp|tls)[46]?\/client:/i.test(text)
}

/** A port 0 half is never the same half twice: it gets no default lockfile. */
function picksAnyPort(text: string): boolean {
  try {
    return parseConnector(text).endpoint?.port === 0
  } catch {
    return false
  }
}

function isPermissionDenied(err: unknown): boolean {
  const e = err as { name?: string; code?: string }
  return e?.name === 'NotCapable' || e?.name === 'PermissionDenied' || e?.code === 'EACCES' || e?.code === 'EPERM' || e?.code === 'EROFS'
}

function takeLocks(configs: Configured[], workdir: string | undefined, log: Logger): HeldLock[] {
  const locks = new Map<string, HeldLock>()
  for (const c of configs) {
    const path = c.lockfile ?? (picksAnyPort(c.inText) || picksAnyPort(c.outText) ? undefined : defaultLockfile(c.inText, c.outText, workdir))
    if (path === undefined || locks.has(path)) continue
    try {
      locks.set(path, acquireLock(path, c.removeLockfile, (line) => log.warn(line)))
    } catch (err) {
      // Deno without --allow-write: a default lockfile is skipped (and said), a named one is required.
      if (c.lockfile !== undefined || !isPermissionDenied(err)) throw err
      log.warn(`${c.where}: no lockfile (${(err as Error).message}): a second copy of this half would not be refused`)
      continue
    }
    log.info(`${c.where}: lockfile ${path}`)
  }
  return [...locks.values()]
}

function runCommand(command: 'daemonize' | 'undaemonize', options: Record<string, string | boolean>): void {
  const out = { print }
  try {
    if (command === 'daemonize') daemonize(options, cwd(), out)
    else undaemonize(options, out)
  } catch (err) {
    fail(err)
  }
}

async function main(): Promise<void> {
  let args
  try {
    args = parseArgs(argv())
    useLogFormat(args.options['log-format'])
    warnTokenOnCommandLine(args.options)
  } catch (err) {
    fail(err)
  }
  if (args.command === 'help') {
    print(HELP)
    return
  }
  if (args.command === 'version') {
    print(versionLine())
    return
  }
  if (args.command === 'daemonize' || args.command === 'undaemonize') return runCommand(args.command, args.options)
  for (const k of ['user', 'dry-run', 'unit-dir']) {
    if (args.options[k] !== undefined) fail(new RelayError('E_USAGE', `--${k} belongs to 'edgerelay daemonize' (and undaemonize), not to a running half`))
  }
  let setup
  let log: Logger
  let configs: Configured[]
  let activated: ReturnType<typeof activatedRuntime>
  try {
    setup = setUpProcess(args.options)
    cleanups.push(() => setup!.cleanup())
    const format = args.options['log-format'] === 'json' ? 'json' : 'text'
    log = createLogger(args.options.quiet === true ? 'warn' : 'info', setup.sink, 'edgerelay', format)
    log.info(`edgerelay ${VERSION} on ${runtime.name}, PID ${pid()}, ${setup.describe}`)
    configs = configurations(args.options, log)
    checkDuplicateListens(configs)
    activated = activatedRuntime(runtime, log)
    const locks = takeLocks(configs, setup.workdir, log)
    cleanups.push(() => locks.forEach((l) => l.release()))
  } catch (err) {
    fail(err)
  }
  const halves: (Half | undefined)[] = []
  const stop = new AbortController()
  let metrics: Awaited<ReturnType<typeof startMetrics>>
  onShutdownSignal(async (signal) => {
    stop.abort()
    printError(cliLine('info', `${signal} received, shutting down`))
    await Promise.all([...halves.map((h) => h?.close()), metrics?.close()])
    for (const fn of cleanups) fn()
    cleanups = []
    exit(EXIT.ok)
  })
  const sink = setup.sink
  const start = (i: number) => startHalf({ ...configs[i]!.options, runtime: activated.runtime, logger: sink, signal: stop.signal })
  const supervisors: Promise<void>[] = []
  for (let i = 0; i < configs.length; i++) {
    try {
      halves[i] = await start(i)
      supervisors.push(supervise(i, halves[i]!))
    } catch (err) {
      if ((err as RelayError).code !== 'E_NO_SUCH_INTERFACE') {
        await Promise.all(halves.map((h) => h?.close()))
        fail(err)
      }
      supervisors.push(supervise(i, undefined, err as Error))
    }
  }
  try {
    metrics = await startMetrics(args.options, () => halves.filter((h) => h !== undefined), log, activated.runtime)
    activated.reportUnused()
  } catch (err) {
    await Promise.all(halves.map((h) => h?.close()))
    fail(err)
  }
  onReloadSignal(() => {
    for (const h of halves) void h?.rescan()
  })

  /**
   * Keeps half `i` running: a network interface that is missing (at start, or when a client
   * dials) is waited for with backoff, as uhppoted-tunnel does, instead of ending the process.
   */
  async function supervise(i: number, first: Half | undefined, firstError?: Error): Promise<void> {
    const { options, where } = configs[i]!
    const backoff = new Backoff({ initialMs: 1000, maxMs: parseDuration(options.maxRetryDelay ?? '5m', 'max-retry-delay'), maxRetries: options.maxRetries ?? -1 })
    let half = first
    let error = firstError
    for (;;) {
      if (half) {
        try {
          await half.done
          return
        } catch (err) {
          if (stop.signal.aborted) return
          if ((err as RelayError).code !== 'E_NO_SUCH_INTERFACE') throw err
          error = err as Error
        }
      }
      const delay = backoff.next()
      if (delay === undefined) throw error
      log.warn(`${where}: ${error!.message}: retrying in ${delay} ms`)
      if (!(await sleepUnlessAborted(delay, stop.signal))) return
      try {
        half = halves[i] = await start(i)
        backoff.reset()
      } catch (err) {
        if (stop.signal.aborted) return
        if ((err as RelayError).code !== 'E_NO_SUCH_INTERFACE') throw err
        half = undefined
        error = err as Error
      }
    }
  }

  // A half that stops on its own (retries used up) takes the process down with its exit code.
  await Promise.all(supervisors.map((s) => s.catch(async (err) => {
    if (stop.signal.aborted) return
    stop.abort()
    await Promise.all(halves.map((x) => x?.close()))
    fail(err)
  })))
}

await main()
