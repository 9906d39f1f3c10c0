import { RelayError } from './errors.ts'

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/**
 * Parses Go-style durations as uhppoted-tunnel takes them (`5s`, `500ms`, `1m30s`). A string
 * that is a bare number other than 0 is refused, as Go's flag parser refuses `--udp-timeout 5`
 * ("missing unit"): it used to be read as milliseconds, which no uhppoted-tunnel user means.
 * A JavaScript number (library options) is milliseconds.
 */
export function parseDuration(value: string | number, what: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new RelayError('E_CONFIG', `${what}: ${value} is not a valid duration`)
    return value
  }
  const text = value.trim()
  if (/^\d+(\.\d+)?$/.test(text)) {
    if (Number(text) === 0) return 0
    throw new RelayError('E_CONFIG', `${what}: '${value}' has no unit (did you mean ${text}s or ${text}ms?)`)
  }
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/y
  let total = 0
  let pos = 0
  while (pos < text.length) {
    re.lastIndex = pos
    const m = re.exec(text)
    if (!m) throw new RelayError('E_CONFIG', `${what}: '${value}' is not a duration (use forms like 500ms, 5s, 1m30s)`)
    total += Number(m[1]) * UNITS[m[2]!]!
    pos = re.lastIndex
  }
  if (text.length === 0) throw new RelayError('E_CONFIG', `${what}: empty duration`)
  return Math.round(total)
}
