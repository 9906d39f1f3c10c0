/**
 * The edgerelay command: parses the command line (and TOML config), starts one half per
 * configuration, and stops them all on SIGINT/SIGTERM. `daemonize`/`undaemonize` write and remove
 * a systemd unit.
 */
import { runtime } from '#runtime'
import { startHalf, type HalfSettings } from '../half/start-half.ts'
import { RelayError } from '../base/errors.ts'
import { createLogger, type Logger } from '../base/logger.ts'
import { parseConnector } from '../net/connector-string.ts'
import { parseArgs, scalarOf, valuesOf, type CliOptions } from './args.ts'
import { type ConfigSection, DEFAULT_CONFIG_FILE, loadConfig, splitConfigArg } from './config.ts'
import { daemonize, undaemonize } from './daemonize.ts'
import { cliLine, useLogFormat } from './cli-lines.ts'
import { startMetrics } from './metrics-option.ts'
import { watchUdpDrops } from './udp-drops.ts'
import { activatedRuntime } from './socket-activation.ts'
import { reloader, reloadRoute, requestReload } from './reload.ts'
import { RunningHalves, type HalfConfig } from './running-halves.ts'
import { announceWorkerMetrics, checkWorkers, runPrimary, workerCount, workerIndex } from './workers.ts'
import { withReusePort } from '../net/shared-port.ts'
import { warnTokenOnCommandLine } from './secrets.ts'
import { warnProxyPasswordOnCommandLine } from './proxy-option.ts'
import { checkDuplicateListens } from '../half/duplicate-listen.ts'
import { exitCodeFor, EXIT } from './exit-codes.ts'
import { toHalfOptions } from './half-options.ts'
import { HELP, VERSION, versionLine } from './help.ts'
import { argv, cwd, exit, fileExists, onReloadSignal, onShutdownSignal, pid, print, printError, readText } from './host.ts'
import { acquireLock, defaultLockfile, type HeldLock } from './lockfile.ts'
import { setUpProcess } from './process-options.ts'

interface Configured extends HalfConfig {
  where: string
  options: HalfSettings
  /** The connector strings as written (the default lockfile's name hashes them, as uhppoted-tunnel does). */
  /** Every --in and --out (a half may have several), for the default lockfile's name. */
  inTexts: string[]
  outTexts: string[]
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
function sectionsFor(options: CliOptions, log: Logger): { file?: string; sections: ConfigSection[] } {
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

function configurations(options: CliOptions, log: Logger): Configured[] {
  const { config: _, ...overrides } = options
  const { file, sections } = sectionsFor(options, log)
  return sections.map((s) => {
    const where = file === undefined ? 'command line' : `${file} [${s.name}]`
    const merged: CliOptions = { ...s.options, ...overrides }
    // uhppoted-tunnel's files name no codec, and its servers speak only its own framing: a half
    // that dials one (tcp/client, tls/client) uses it. Servers keep `auto`, which serves both.
    if (file !== undefined && !s.namesCodec && overrides.codec === undefined && [...valuesOf(merged.in), ...valuesOf(merged.out)].some(dialsTunnel)) {
      merged.codec = 'uhppoted'
      log.info(`${where}: no codec named: using --codec uhppoted (uhppoted-tunnel's framing, what its servers speak); set codec = "protobuf" there for edgerelay peers`)
    }
    const settings = toHalfOptions(merged, where, { controllers: s.controllers, interfaces: s.interfaces, note: (line) => log.info(line) })
    const lockfile = typeof merged.lockfile === 'string' && merged.lockfile !== '' ? merged.lockfile : undefined
    // What a reload compares: the options as written and as read (file contents: keys, certificates, tokens).
    const fingerprint = JSON.stringify({ merged, settings, controllers: s.controllers, interfaces: s.interfaces })
    return { where, options: settings, fingerprint, inTexts: valuesOf(merged.in), outTexts: valuesOf(merged.out), lockfile, removeLockfile: merged['remove-lockfile'] === true || merged['remove-lockfile'] === 'true' }
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
    // One --in and one --out name the lockfile as uhppoted-tunnel does; more are joined by spaces.
    const path = c.lockfile ?? ([...c.inTexts, ...c.outTexts].some(picksAnyPort) ? undefined : defaultLockfile(c.inTexts.join(' '), c.outTexts.join(' '), workdir))
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

function runCommand(command: 'daemonize' | 'undaemonize', options: CliOptions): void {
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
    useLogFormat(scalarOf(args.options['log-format']))
    warnTokenOnCommandLine(args.options)
    warnProxyPasswordOnCommandLine(args.options)
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
  if (args.command === 'reload') {
    try {
      const { exitCode, text } = await requestReload(scalarOf(args.options.metrics))
      ;(exitCode === 0 ? print : printError)(text)
      return exit(exitCode)
    } catch (err) {
      fail(err)
    }
  }
  for (const k of ['user', 'dry-run', 'unit-dir']) {
    if (args.options[k] !== undefined) fail(new RelayError('E_USAGE', `--${k} belongs to 'edgerelay daemonize' (and undaemonize), not to a running half`))
  }
  let setup
  let log: Logger
  let configs: Configured[]
  let activated: ReturnType<typeof activatedRuntime>
  let workers = 1
  // A --workers primary writes the --pid file and holds the lockfiles; its workers do neither.
  const worker = workerIndex()
  if (worker !== undefined) delete args.options.pid
  try {
    setup = setUpProcess(args.options)
    cleanups.push(() => setup!.cleanup())
    const format = args.options['log-format'] === 'json' ? 'json' : 'text'
    log = createLogger(args.options.quiet === true ? 'warn' : 'info', setup.sink, 'edgerelay', format)
    log.info(`edgerelay ${VERSION} on ${runtime.name}, PID ${pid()}, ${setup.describe}`)
    configs = configurations(args.options, log)
    checkDuplicateListens(configs)
    activated = activatedRuntime(runtime, log)
    workers = workerCount(args.options)
    if (workers > 1 && worker === undefined) {
      checkWorkers(runtime, configs, workers, activated.runtime !== runtime)
      const locks = takeLocks(configs, setup.workdir, log)
      cleanups.push(() => locks.forEach((l) => l.release()))
    }
  } catch (err) {
    fail(err)
  }
  if (workers > 1 && worker === undefined) {
    return runPrimary({ count: workers, log, runtime, metrics: typeof args.options.metrics === 'string' ? args.options.metrics : undefined, cleanup: () => cleanups.forEach((fn) => fn()) })
  }
  const stop = new AbortController()
  const sink = setup.sink
  const workdir = setup.workdir
  const running = new RunningHalves<Configured>({
    start: (config, signal) => startHalf({ ...config.options, runtime: worker === undefined ? activated.runtime : withReusePort(activated.runtime), logger: sink, signal }),
    acquire: (config) => {
      if (worker !== undefined) return () => {}
      const locks = takeLocks([config], workdir, log)
      return () => locks.forEach((l) => l.release())
    },
    log,
  }, stop.signal)
  let metrics: Awaited<ReturnType<typeof startMetrics>>
  const udpDrops = watchUdpDrops(log, stop.signal)
  onShutdownSignal(async (signal) => {
    stop.abort()
    printError(cliLine('info', `${signal} received, shutting down`))
    await Promise.all([running.closeAll(), metrics?.close()])
    for (const fn of cleanups) fn()
    cleanups = []
    exit(EXIT.ok)
  })
  // Registered before any half starts: a SIGHUP during start-up must not end the process.
  let reload: ReturnType<typeof reloader> | undefined
  onReloadSignal(() => {
    // Local addresses looked at again (udp/listen:*), and the config file read again.
    running.rescan()
    if (reload) void reload()
    else log.warn('SIGHUP while starting: nothing reloaded (send it again once the halves run)')
  })
  for (const config of configs) {
    try {
      await running.add(config)
    } catch (err) {
      await running.closeAll()
      fail(err)
    }
  }
  const hasFile = typeof args.options.config === 'string' || fileExists(DEFAULT_CONFIG_FILE)
  const reloadFile = reloader(() => {
    const next = configurations(args.options, log)
    checkDuplicateListens(next)
    return next
  }, hasFile, running, log)
  try {
    // A worker serves its metrics on loopback for its primary, which serves them all at --metrics.
    const metricsOptions = worker !== undefined && args.options.metrics !== undefined ? { ...args.options, metrics: '127.0.0.1:0' } : args.options
    metrics = await startMetrics(metricsOptions, () => running.halves(), log, activated.runtime, { 'POST /reload': reloadRoute(reloadFile) }, udpDrops)
    if (worker !== undefined && metrics) announceWorkerMetrics(metrics.addresses())
    activated.reportUnused()
  } catch (err) {
    await running.closeAll()
    fail(err)
  }
  reload = reloadFile
  // A half that stops on its own (retries used up) takes the process down with its exit code.
  await running.fatal.catch(async (err) => {
    if (stop.signal.aborted) return
    stop.abort()
    await running.closeAll()
    fail(err)
  })
}

await main()
