/**
 * Checks of a half's settings at start (issue 13): a negative or absurd size, a duration out of
 * range, a token the hello cannot carry are refused with E_CONFIG (exit code 2) and a message
 * naming the option as the CLI spells it and as the library does, never accepted and misused.
 */
import { parseDuration } from '../base/duration.ts'
import { RelayError } from '../base/errors.ts'
import { LIMIT_OPTIONS, defaultLimits, type LimitSettings } from '../base/limits.ts'

/** `--queue-packets (queueMaxPackets)`. */
const named = (cli: string, lib: string) => `--${cli} (${lib})`

/** A whole number in [min, max], or the default. */
export function count(value: number | undefined, fallback: number, cli: string, lib: string, min: number, max: number, what: string): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RelayError('E_CONFIG', `${named(cli, lib)} must be a whole number from ${min} to ${max} (${what}), not ${JSON.stringify(value)}`)
  }
  return value
}

const HOUR = 3_600_000

/** A duration in [minMs, maxMs] (0 also, when `zeroMeans` says what it means), or the default. */
export function duration(value: string | number | undefined, fallback: string, cli: string, lib: string, minMs: number, maxMs: number, zeroMeans?: string): number {
  const ms = parseDuration(value ?? fallback, named(cli, lib))
  if (ms === 0 && zeroMeans) return 0
  if (ms < minMs || ms > maxMs) {
    const range = `${show(minMs)} to ${show(maxMs)}${zeroMeans ? `, or 0 (${zeroMeans})` : ''}`
    throw new RelayError('E_CONFIG', `${named(cli, lib)} must be from ${range}, not ${typeof value === 'number' ? `${value} ms` : `'${value}'`}`)
  }
  return ms
}

function show(ms: number): string {
  if (ms % HOUR === 0) return `${ms / HOUR}h`
  if (ms % 60_000 === 0) return `${ms / 60_000}m`
  if (ms % 1000 === 0) return `${ms / 1000}s`
  return `${ms}ms`
}

/** The hello carries at most this many bytes of token (docs/wire-protocol.md#the-hello-tcp-and-tls). */
export const MAX_TOKEN_BYTES = 1024

/** A token every transport can carry: 1 to 1,024 bytes of UTF-8, no control characters (it travels in HTTP headers too). */
export function token(value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value.length === 0) throw new RelayError('E_CONFIG', `${named('token', 'token')} must not be empty (leave it out for a half without a token)`)
  const bytes = new TextEncoder().encode(value).length
  if (bytes > MAX_TOKEN_BYTES) throw new RelayError('E_CONFIG', `${named('token', 'token')} is ${bytes} bytes long; the hello carries at most ${MAX_TOKEN_BYTES}`)
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new RelayError('E_CONFIG', `${named('token', 'token')} must not contain control characters (a line break, a tab): it is sent in HTTP headers too`)
  return value
}

const MAX_COUNT = 1 << 24

/** The global limits: defaults from the descriptor limit, each given one checked. */
export function limits(given: Partial<LimitSettings> | undefined, descriptorLimit: number | undefined): LimitSettings {
  const out = defaultLimits(descriptorLimit)
  for (const [key, cli] of Object.entries(LIMIT_OPTIONS) as [keyof LimitSettings, string][]) {
    const value = given?.[key]
    if (value === undefined) continue
    const max = key === 'maxBufferedBytes' ? 2 ** 36 : MAX_COUNT
    const min = key === 'maxBufferedBytes' ? 65_536 : 1
    out[key] = count(value, out[key], cli, `limits.${key}`, min, max, key === 'maxBufferedBytes' ? 'bytes' : 'at once')
  }
  if (given && typeof given !== 'object') throw new RelayError('E_CONFIG', 'limits must be an object of limit settings')
  for (const key of Object.keys(given ?? {})) {
    if (!(key in LIMIT_OPTIONS)) throw new RelayError('E_CONFIG', `limits.${key} is not a limit (there are ${Object.keys(LIMIT_OPTIONS).join(', ')})`)
  }
  return out
}
