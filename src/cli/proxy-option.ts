/**
 * --proxy, --noproxy and --proxy-user-file, with the environment's proxy variables (curl's: see
 * README.md#proxies) handed to the half as ProxySettings. Credentials may stay off the command
 * line: --proxy-user-file's first line or EDGERELAY_PROXY_USER, `user:password`, for a proxy URL
 * that has none.
 */
import type { CliOptions } from './args.ts'
import { RelayError } from '../base/errors.ts'
import type { ProxySettings } from '../net/dialers/proxy-choice.ts'
import { redact } from '../net/dialers/proxy-url.ts'
import { cliLine } from './cli-lines.ts'
import { env, printError } from './host.ts'
import { firstLine, readSecretFile } from './secrets.ts'

/** The variables the half may read (README.md#proxies says which applies to which carrier). */
const VARIABLES = ['all_proxy', 'ALL_PROXY', 'http_proxy', 'https_proxy', 'HTTPS_PROXY', 'ws_proxy', 'WS_PROXY', 'wss_proxy', 'WSS_PROXY', 'no_proxy', 'NO_PROXY']

export function proxyOption(o: CliOptions, where: string): ProxySettings {
  const str = (k: string) => (typeof o[k] === 'string' ? (o[k] as string) : undefined)
  const file = str('proxy-user-file')
  const fromEnv = env('EDGERELAY_PROXY_USER')
  const text = file !== undefined ? firstLine(readSecretFile(file, 'proxy-user-file', where)) : fromEnv || undefined
  let credentials: ProxySettings['credentials']
  if (text !== undefined) {
    const colon = text.indexOf(':')
    const named = file !== undefined ? `the --proxy-user-file '${file}'` : 'EDGERELAY_PROXY_USER'
    if (colon <= 0) throw new RelayError('E_CONFIG', `${where}: ${named} must hold user:password`)
    credentials = { user: text.slice(0, colon), password: text.slice(colon + 1) }
  }
  const environment: Record<string, string | undefined> = {}
  for (const name of VARIABLES) environment[name] = env(name)
  const settings: ProxySettings = { env: environment }
  const url = str('proxy')
  const noProxy = str('noproxy')
  if (url !== undefined) settings.url = url
  if (noProxy !== undefined) settings.noProxy = noProxy
  if (credentials) settings.credentials = credentials
  return settings
}

/** A proxy password on the command line is in every user's `ps`: says so, once. */
export function warnProxyPasswordOnCommandLine(commandLine: CliOptions): void {
  const url = commandLine.proxy
  if (typeof url === 'string' && redact(url) !== url) {
    printError(cliLine('warn', `--proxy '${redact(url)}' carries a password that every user of this machine can read (ps, /proc): use --proxy-user-file or EDGERELAY_PROXY_USER`, 'W_PROXY_PASSWORD_ON_COMMAND_LINE'))
  }
}
