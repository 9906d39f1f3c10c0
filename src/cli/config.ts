import { parse as parseToml } from 'smol-toml'
import { RelayError } from '../base/errors.ts'
import { isRepeatable, KNOWN_OPTIONS, type CliOptions } from './args.ts'

/** uhppoted-tunnel's default config file (its `--config '#section'` reads this one). */
export const DEFAULT_CONFIG_FILE = '/etc/uhppoted/uhppoted-tunnel.toml'

/** Keys a TOML table may hold besides the command-line option names. */
const TOML_ONLY = new Set(['in', 'out', 'label', 'interfaces', 'controllers', 'remove-lockfile', 'rate-limit', 'rate-limit-burst'])
const KNOWN = new Set([...KNOWN_OPTIONS, ...TOML_ONLY])

/** One half's settings from a config file: [defaults] merged with its own table. */
export interface ConfigSection {
  /** The table's name (`client`), or `defaults` when [defaults] alone is the half. */
  name: string
  /** Flat options with command-line names; numbers as text (durations then need their unit). */
  options: CliOptions
  /** `[section.controllers]`: controller serial number → `udp::host:port` or `tcp::host:port` (ip/out). */
  controllers?: Record<string, string>
  /** `interfaces = { in = "eth0", out = "" }`: the interface each connector binds to. */
  interfaces?: { in?: string; out?: string }
  /** Whether [defaults] or the table names a codec; uhppoted-tunnel's files never do. */
  namesCodec: boolean
}

/**
 * Splits `--config` as uhppoted-tunnel does: `file#section`, `file::section`, `#section` (the
 * default file) or a file alone.
 */
export function splitConfigArg(arg: string): { file: string; section: string | undefined } {
  const m = /^(.*?)(?:::|#)(.*)$/s.exec(arg)
  if (!m) return { file: arg, section: undefined }
  return { file: m[1] === '' ? DEFAULT_CONFIG_FILE : m[1]!, section: m[2] === '' ? undefined : m[2] }
}

/**
 * uhppoted-tunnel's TOML config: a [defaults] table plus one table per tunnel, each with `in`,
 * `out` and the same option names as the command line. A section picks one table; without one
 * every table that has `in` runs, as a half each, in one process (uhppoted-tunnel runs only
 * [defaults] then: the caller says so in the log). Keys uhppoted-tunnel would ignore silently get
 * one warning each, so a typo does not go unnoticed.
 */
export function loadConfig(text: string, file: string, section: string | undefined, warn: (line: string) => void = () => {}): ConfigSection[] {
  let doc: Record<string, unknown>
  try {
    doc = parseToml(text) as Record<string, unknown>
  } catch (cause) {
    throw new RelayError('E_CONFIG', `${file}: not valid TOML: ${(cause as Error).message}`, { cause })
  }
  const rawDefaults = doc.defaults ?? {}
  if (!isTable(rawDefaults)) throw new RelayError('E_CONFIG', `${file} [defaults]: expected a table`)
  const tables = Object.keys(doc).filter((k) => k !== 'defaults' && isTable(doc[k]))
  if (section !== undefined && section !== 'defaults' && !tables.includes(section)) {
    throw new RelayError('E_CONFIG', `${file}: no section [${section}] (sections: ${tables.join(', ') || 'none'})`)
  }
  let names: string[]
  if (section !== undefined) names = [section]
  else {
    names = tables.filter((k) => 'in' in (doc[k] as object))
    if (names.length === 0 && 'in' in rawDefaults) names = ['defaults']
  }
  if (names.length === 0) throw new RelayError('E_CONFIG', `${file}: no section with 'in' and 'out'`)
  warnUnknown(rawDefaults, `${file} [defaults]`, warn)
  const defaults = split(rawDefaults, `${file} [defaults]`)
  return names.map((name) => {
    const raw = name === 'defaults' ? {} : (doc[name] as Record<string, unknown>)
    warnUnknown(raw, `${file} [${name}]`, warn)
    const own = split(raw, `${file} [${name}]`)
    const options = { ...defaults.options, ...own.options }
    if (options.label === undefined && name !== 'defaults') options.label = name
    const interfaces = own.interfaces ?? defaults.interfaces
    const controllers = own.controllers ?? defaults.controllers
    return {
      name,
      options,
      ...(interfaces ? { interfaces } : {}),
      ...(controllers ? { controllers } : {}),
      namesCodec: 'codec' in options,
    }
  })
}

function warnUnknown(table: Record<string, unknown>, where: string, warn: (line: string) => void): void {
  for (const key of Object.keys(table)) {
    if (!KNOWN.has(key)) warn(`${where}: unknown key '${key}' ignored (uhppoted-tunnel ignores it silently; a typo?)`)
  }
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date)
}

/** A table's scalar options, its `interfaces` and its `controllers` sub-table. */
function split(table: Record<string, unknown>, where: string): Pick<ConfigSection, 'options' | 'interfaces' | 'controllers'> {
  const options: CliOptions = {}
  let interfaces: ConfigSection['interfaces']
  let controllers: ConfigSection['controllers']
  for (const [k, value] of Object.entries(table)) {
    if (!KNOWN.has(k)) continue
    if (k === 'interfaces') interfaces = interfacesOf(value, where)
    else if (k === 'controllers') controllers = controllersOf(value, where)
    else if (typeof value === 'string' || typeof value === 'boolean') options[k] = value
    else if (typeof value === 'number' || typeof value === 'bigint') options[k] = String(value)
    else if (isRepeatable(k) && Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string')) options[k] = value as string[]
    else throw new RelayError('E_CONFIG', `${where}: '${k}' must be a string, number or boolean${isRepeatable(k) ? ', or a list of strings' : ''}`)
  }
  return { options, ...(interfaces ? { interfaces } : {}), ...(controllers ? { controllers } : {}) }
}

function interfacesOf(value: unknown, where: string): ConfigSection['interfaces'] {
  if (!isTable(value)) throw new RelayError('E_CONFIG', `${where}: 'interfaces' must be a table such as { in = "eth0", out = "" }`)
  const out: { in?: string; out?: string } = {}
  for (const [k, v] of Object.entries(value)) {
    if (k !== 'in' && k !== 'out') throw new RelayError('E_CONFIG', `${where}: 'interfaces' takes 'in' and 'out', not '${k}'`)
    if (typeof v !== 'string') throw new RelayError('E_CONFIG', `${where}: interfaces.${k} must be an interface name (a string)`)
    if (v !== '') out[k] = v
  }
  return out
}

function controllersOf(value: unknown, where: string): Record<string, string> {
  if (!isTable(value)) throw new RelayError('E_CONFIG', `${where}: 'controllers' must be a table of serial number = "udp::host:port"`)
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(value)) {
    if (!/^\d+$/.test(k) || Number(k) > 0xffffffff) throw new RelayError('E_CONFIG', `${where}.controllers: '${k}' is not a controller serial number (a whole number up to 4294967295)`)
    if (typeof v !== 'string') throw new RelayError('E_CONFIG', `${where}.controllers: ${k} must be a string such as "udp::192.168.1.100:60000"`)
    out[k] = v
  }
  return out
}
