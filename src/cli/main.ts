/**
 * The edgerelay command: parses the command line (and TOML config), starts one half per
 * configuration, and stops them all on SIGINT/SIGTERM.
 */
import { runtime } from '#runtime'
import { startHalf, type Half, type HalfSettings } from '../half/start-half.ts'
import { RelayError } from '../base/errors.ts'
import { parseArgs } from './args.ts'
import { loadConfig } from './config.ts'
import { cliLine, useLogFormat } from './cli-lines.ts'
import { warnTokenOnCommandLine } from './secrets.ts'
import { checkDuplicateListens } from './duplicate-listen.ts'
import { exitCodeFor, EXIT } from './exit-codes.ts'
import { toHalfOptions } from './half-options.ts'
import { HELP, versionLine } from './help.ts'
import { argv, exit, onReloadSignal, onShutdownSignal, print, printError, readText } from './host.ts'

function fail(err: unknown): never {
  printError(cliLine('error', `${(err as Error)?.message ?? err}`, err instanceof RelayError ? err.code : undefined))
  return exit(exitCodeFor(err))
}

function configurations(options: Record<string, string | boolean>): { where: string; options: HalfSettings }[] {
  const config = options.config
  if (typeof config !== 'string') return [{ where: 'command line', options: toHalfOptions(options, 'command line') }]
  const hash = config.lastIndexOf('#')
  const file = hash >= 0 ? config.slice(0, hash) : config
  const section = hash >= 0 ? config.slice(hash + 1) : undefined
  let text: string
  try {
    text = readText(file)
  } catch (cause) {
    throw new RelayError('E_CONFIG', `cannot read config file '${file}': ${(cause as Error).message}`, { cause })
  }
  const { config: _, ...overrides } = options
  return loadConfig(text, file, section).map((fromFile) => {
    const where = `${file} [${fromFile.label}]`
    return { where, options: toHalfOptions({ ...fromFile, ...overrides }, where) }
  })
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
  let configs
  try {
    configs = configurations(args.options)
    checkDuplicateListens(configs)
  } catch (err) {
    fail(err)
  }
  const halves: Half[] = []
  let stopping = false
  onShutdownSignal(async (signal) => {
    stopping = true
    printError(cliLine('info', `${signal} received, shutting down`))
    await Promise.all(halves.map((h) => h.close()))
    exit(EXIT.ok)
  })
  for (const { options } of configs) {
    try {
      halves.push(await startHalf({ ...options, runtime }))
    } catch (err) {
      await Promise.all(halves.map((h) => h.close()))
      fail(err)
    }
  }
  onReloadSignal(() => {
    for (const h of halves) void h.rescan()
  })
  // A half that stops on its own (retries used up) takes the process down with its exit code.
  await Promise.all(halves.map((h) => h.done.catch(async (err) => {
    if (stopping) return
    await Promise.all(halves.map((x) => x.close()))
    fail(err)
  })))
}

await main()
