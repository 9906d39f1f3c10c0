import { RelayError } from '../base/errors.ts'
import { formatRecord, isLogFormat, type LogFormat, type LogLevel } from '../base/logger.ts'

/**
 * Lines the command itself writes (a fatal error, "SIGTERM received"), in the format the halves
 * log in: `edgerelay: message [E_CODE]` as text, a log record (connector null) as JSON.
 */
let format: LogFormat = 'text'

/** Takes --log-format from the command line; refuses anything but text or json. */
export function useLogFormat(value: string | boolean | undefined): void {
  if (value === undefined) return
  if (typeof value !== 'string' || !isLogFormat(value)) throw new RelayError('E_CONFIG', `--log-format must be text or json, not '${value}'`)
  format = value
}

export function cliLine(level: Exclude<LogLevel, 'silent'>, message: string, code?: string): string {
  if (format === 'text') return `edgerelay: ${message}${code ? ` [${code}]` : ''}`
  return formatRecord({ time: new Date().toISOString(), level, connector: null, code: code ?? null, peer: null, message }, 'json')
}
