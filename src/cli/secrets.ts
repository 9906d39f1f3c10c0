import type { CliOptions } from './args.ts'
import { RelayError } from '../base/errors.ts'
import { cliLine } from './cli-lines.ts'
import { env, fileMode, printError, readText } from './host.ts'

/**
 * Secrets off the command line (where `ps` shows them to every user): files read once at start,
 * and environment variables.
 */

/** Reads a file that holds a secret (a key, a token, a password); warns when others may read it. */
export function readSecretFile(path: string, option: string, where: string): string {
  const named = option.endsWith('-file') ? `--${option} '${path}'` : `the --${option} file '${path}'`
  let text: string
  try {
    text = readText(path)
  } catch (cause) {
    throw new RelayError('E_CONFIG', `${where}: cannot read ${named}: ${(cause as Error).message}`, { cause })
  }
  const mode = fileMode(path)
  if (mode !== undefined && (mode & 0o077) !== 0) {
    const who = mode & 0o007 ? 'every user' : 'its group'
    printError(cliLine('warn', `${where}: ${named} can be read by ${who} (mode ${(mode & 0o777).toString(8).padStart(3, '0')}): chmod 600 it`, 'W_SECRET_FILE_READABLE'))
  }
  return text
}

/** A secret written by `echo` ends in a newline that is not part of it: the first line is the secret. */
export const firstLine = (text: string): string => text.split(/\r?\n/)[0]!

/** The tunnel token: --token (or `token` in TOML), else --token-file's first line, else $EDGERELAY_TOKEN. */
export function tokenOption(o: CliOptions, where: string): string | undefined {
  const token = o.token
  const file = o['token-file']
  if (typeof token === 'string' && typeof file === 'string') throw new RelayError('E_CONFIG', `${where}: give the token once, with --token or --token-file`)
  if (typeof token === 'string') return token
  if (typeof file === 'string') {
    const fromFile = firstLine(readSecretFile(file, 'token-file', where))
    if (!fromFile) throw new RelayError('E_CONFIG', `${where}: the --token-file '${file}' is empty`)
    return fromFile
  }
  return env('EDGERELAY_TOKEN') || undefined
}

/** A token given as --token on the command line is in every user's `ps`: says so, once. */
export function warnTokenOnCommandLine(commandLine: CliOptions): void {
  if (typeof commandLine.token === 'string') printError(cliLine('warn', '--token on the command line can be read by every user of this machine (ps, /proc): use --token-file or EDGERELAY_TOKEN', 'W_TOKEN_ON_COMMAND_LINE'))
}
