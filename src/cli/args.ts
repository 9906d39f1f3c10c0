import { RelayError } from '../base/errors.ts'
import { LIMIT_OPTIONS } from '../base/limits.ts'

/** An option's value: a flag, a value, or every value of an option given more than once (--in). */
export type CliOptions = Record<string, string | boolean | string[]>

/** Every value of an option (none, one, or each of a repeated one), as text. */
export function valuesOf(value: string | boolean | string[] | undefined): string[] {
  return Array.isArray(value) ? value : typeof value === 'string' ? [value] : []
}

/** An option that is not repeatable, as the parsers below store it (never a list). */
export function scalarOf(value: string | boolean | string[] | undefined): string | boolean | undefined {
  return Array.isArray(value) ? value.at(-1) : value
}

/** The command line, before config files are merged in. Option names follow uhppoted-tunnel. */
export interface CliArgs {
  command: 'run' | 'version' | 'help' | 'daemonize' | 'undaemonize' | 'reload'
  options: CliOptions
}

/** Options that take no value. */
const FLAGS = new Set(['ipv4', 'ipv6', 'console', 'debug', 'help', 'version', 'client-auth', 'quiet', 'service', 'remove-lockfile', 'dry-run'])
/** Options that take a value. */
const VALUED = new Set([
  'in', 'out', 'config', 'codec', 'udp-timeout', 'flow-idle', 'max-retries', 'max-retry-delay', 'ca-cert', 'cert', 'key',
  'token', 'token-file', 'metrics', 'workers', 'log-level', 'log-format', 'lockfile', 'label', 'hello-timeout', 'connect-timeout', 'heartbeat', 'html', 'workdir',
  'logfile', 'logfilesize', 'pid', 'queue-packets', 'queue-bytes', 'resolver', 'xmpp-password-file', 'rate-limit', 'rate-limit-burst', 'user', 'unit-dir',
  'allow', 'max-streams', 'route',
  'proxy', 'noproxy', 'proxy-user-file', 'proxy-users',
  // The half's global limits (README "Limits") and the idle timeout of tunnels without heartbeats.
  'idle-timeout', ...Object.values(LIMIT_OPTIONS),
])
/** Options that may be given more than once: each value is kept (one half with several listeners, routes). */
const REPEATABLE = new Set(['in', 'out', 'route'])

/** Whether an option keeps every value given (on the command line, or as a TOML list). */
export const isRepeatable = (name: string): boolean => REPEATABLE.has(name)
const COMMANDS = new Set(['run', 'version', 'help', 'daemonize', 'undaemonize', 'reload'])

export const KNOWN_OPTIONS = [...VALUED, ...FLAGS].sort()

/** The one-letter forms users expect. */
const SHORT: Record<string, string> = { '-h': '--help', '-v': '--version', '-V': '--version' }

/**
 * Parses `edgerelay [run] --in X --out Y ...`. Accepts `--opt value`, `--opt=value` and Go's
 * single-dash `-opt` (uhppoted-tunnel's command lines use the flag package).
 */
export function parseArgs(argv: string[]): CliArgs {
  let command: CliArgs['command'] = 'run'
  const options: CliOptions = {}
  let i = 0
  if (argv[0] !== undefined && COMMANDS.has(argv[0])) {
    command = argv[0] as CliArgs['command']
    i = 1
  }
  for (; i < argv.length; i++) {
    const arg = SHORT[argv[i]!] ?? argv[i]!
    const m = /^--?([a-z0-9][a-z0-9-]*)(?:=(.*))?$/s.exec(arg)
    if (!m) throw new RelayError('E_USAGE', `unexpected argument '${arg}' (options start with --; try 'edgerelay help')`)
    const name = m[1]!
    if (FLAGS.has(name)) {
      // client-auth may carry a value (`--client-auth=required`), read by half-options.
      if (m[2] !== undefined && name === 'client-auth') options[name] = m[2]
      else if (m[2] !== undefined && !/^(true|false|1|0)$/.test(m[2])) throw new RelayError('E_USAGE', `--${name} takes no value (or true/false), got '${m[2]}'`)
      else options[name] = m[2] === undefined ? true : m[2] === 'true' || m[2] === '1'
    } else if (VALUED.has(name)) {
      const value = m[2] ?? argv[++i]
      if (value === undefined) throw new RelayError('E_USAGE', `--${name} needs a value`)
      const before = options[name]
      if (before === undefined || !REPEATABLE.has(name)) options[name] = value
      else options[name] = [...(Array.isArray(before) ? before : [before as string]), value]
    } else {
      const close = KNOWN_OPTIONS.filter((k) => k.startsWith(name.slice(0, 3)))
      throw new RelayError('E_USAGE', `unknown option --${name}${close.length ? ` (did you mean ${close.map((c) => `--${c}`).join(', ')}?)` : ''}`)
    }
  }
  if (options.help) command = 'help'
  if (options.version) command = 'version'
  return { command, options }
}
