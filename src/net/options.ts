/**
 * Per-endpoint and per-connector options: `,key` or `,key=value` after the address
 * (docs/addresses.md#where-an-address-appears; e.g. `tls/client:host:443,sni=relay.example.com`).
 */
import { describeChar, type Fail } from '../base/scan.ts'

const KEY = /^[a-z][a-z0-9_-]*$/

/** Parsed options plus where each value starts, so later checks can point at it. */
export interface ParsedOptions {
  options: Record<string, string>
  /** Index of each option's value (or of its key when it has no value). */
  at: Record<string, number>
}

/**
 * Parses `,k[=v],…` in `src` from `start` (a comma) to `end`. Keys are case-insensitive and
 * returned lowercase; a bare key has the value ''. Values keep their case and may contain '='.
 */
export function parseOptions(src: string, start: number, end: number, fail: Fail, code: string): ParsedOptions {
  const options: Record<string, string> = {}
  const at: Record<string, number> = {}
  let i = start
  while (i < end) {
    // src[i] is a comma here.
    const from = i + 1
    let next = src.indexOf(',', from)
    if (next < 0 || next > end) next = end
    const item = src.slice(from, next)
    const eq = item.indexOf('=')
    const rawKey = eq < 0 ? item : item.slice(0, eq)
    const key = rawKey.toLowerCase()
    if (key === '') fail(code, eq < 0 ? 'empty option (two commas in a row, or a trailing comma)' : 'option without a name', from)
    if (!KEY.test(key)) {
      const bad = rawKey.search(/[^A-Za-z0-9_-]/)
      const index = bad < 0 ? from : from + bad
      fail(code, bad < 0 ? `option name '${key}' must start with a letter` : `invalid option name: unexpected ${describeChar(rawKey[bad] ?? '')}`, index)
    }
    if (Object.hasOwn(options, key)) fail(code, `option '${key}' is given twice`, from)
    const value = eq < 0 ? '' : item.slice(eq + 1)
    if (eq >= 0 && value === '') fail(code, `option '${key}=' has no value`, from + eq + 1)
    const ctl = value.search(/\p{Cc}/u)
    if (ctl >= 0) fail(code, `invalid value for option '${key}': unexpected ${describeChar(value[ctl] ?? '')}`, from + eq + 1 + ctl)
    options[key] = value
    at[key] = eq < 0 ? from : from + eq + 1
    i = next
  }
  return { options, at }
}

/** `,k=v` text for options in key order (canonical), bare keys for empty values. */
export function formatOptions(options: Record<string, string>): string {
  return Object.keys(options)
    .sort()
    .map((k) => (options[k] === '' ? `,${k}` : `,${k}=${options[k]}`))
    .join('')
}
