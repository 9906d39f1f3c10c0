import { parse as parseToml } from 'smol-toml'
import { RelayError } from '../base/errors.ts'

/**
 * uhppoted-tunnel's TOML config: a [defaults] table plus one table per tunnel, each with `in`,
 * `out` and the same option names as the command line. `file.toml#section` picks one table;
 * without a section every table that has `in` and `out` runs, as a half each, in one process.
 */
export function loadConfig(text: string, file: string, section: string | undefined): Record<string, string | boolean>[] {
  let doc: Record<string, unknown>
  try {
    doc = parseToml(text) as Record<string, unknown>
  } catch (cause) {
    throw new RelayError('E_CONFIG', `${file}: not valid TOML: ${(cause as Error).message}`, { cause })
  }
  const defaults = asTable(doc.defaults ?? {}, `${file} [defaults]`)
  const names = section !== undefined ? [section] : Object.keys(doc).filter((k) => k !== 'defaults' && isTable(doc[k]) && 'in' in (doc[k] as object))
  if (section !== undefined && !isTable(doc[section])) {
    const known = Object.keys(doc).filter((k) => k !== 'defaults' && isTable(doc[k]))
    throw new RelayError('E_CONFIG', `${file}: no section [${section}] (sections: ${known.join(', ') || 'none'})`)
  }
  if (names.length === 0) throw new RelayError('E_CONFIG', `${file}: no section with 'in' and 'out'`)
  return names.map((name) => ({ ...defaults, ...asTable(doc[name], `${file} [${name}]`), label: String((doc[name] as Record<string, unknown>).label ?? name) }))
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date)
}

function asTable(v: unknown, where: string): Record<string, string | boolean> {
  if (!isTable(v)) throw new RelayError('E_CONFIG', `${where}: expected a table`)
  const out: Record<string, string | boolean> = {}
  for (const [k, value] of Object.entries(v)) {
    if (typeof value === 'string' || typeof value === 'boolean') out[k] = value
    else if (typeof value === 'number' || typeof value === 'bigint') out[k] = String(value)
    else throw new RelayError('E_CONFIG', `${where}: '${k}' must be a string, number or boolean`)
  }
  return out
}
