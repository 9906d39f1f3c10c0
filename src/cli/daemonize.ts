/**
 * `edgerelay daemonize` and `undaemonize`: uhppoted-tunnel's service commands for systemd. The
 * unit is named as uhppoted-tunnel names it (uhppoted-tunnel-<label>.service), so daemonizing
 * edgerelay replaces an old uhppoted-tunnel unit instead of adding a second one that fights it
 * for the same ports. Unlike uhppoted-tunnel, `--user` is honoured (its units always say
 * uhppoted:uhppoted), the unit waits for network-online.target, restarts on failure, and the
 * text is shown before anything is written (`--dry-run` stops there).
 */
import { type CliOptions, valuesOf } from './args.ts'
import { RelayError } from '../base/errors.ts'
import { DEFAULT_CONFIG_FILE, splitConfigArg } from './config.ts'
import { fileExists, readText, removeFile, selfCommand, writeText } from './host.ts'

export const DEFAULT_UNIT_DIR = '/etc/systemd/system'
const DEFAULT_USER = 'uhppoted:uhppoted'
/** Options that configure the command itself, not the half the unit runs. */
const FILE_OPTIONS = new Set(['html', 'ca-cert', 'cert', 'key', 'logfile', 'pid', 'workdir'])
const OWN = new Set(['label', 'user', 'dry-run', 'unit-dir', 'lockfile', 'config', 'help', 'version'])

export interface UnitPlan {
  name: string
  path: string
  text: string
  user: string
  group: string
}

export function serviceName(label: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(label)) throw new RelayError('E_CONFIG', `--label '${label}': use letters, digits, '-', '_' and '.' only (it names the systemd unit)`)
  return `uhppoted-tunnel-${label}`
}

/** One ExecStart word: quoted when it must be; systemd specifiers (%) and variables ($) escaped. */
export function unitWord(word: string): string {
  const escaped = word.replace(/%/g, '%%').replace(/\$/g, '$$$$')
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(escaped) ? escaped : `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
}

function absolute(path: string, cwd: string): string {
  return path.startsWith('/') ? path : `${cwd.replace(/\/+$/, '')}/${path.replace(/^\.\//, '')}`
}

/** The unit for `daemonize` with these options (as given on its command line). */
export function planUnit(o: CliOptions, cwd: string, command: string[] = selfCommand()): UnitPlan {
  const label = typeof o.label === 'string' ? o.label : undefined
  if (label === undefined) {
    throw new RelayError('E_CONFIG', 'daemonize needs --label <name>: without it uhppoted-tunnel asks before overwriting uhppoted-tunnel.service; edgerelay refuses instead (the label names the unit, uhppoted-tunnel-<label>.service)')
  }
  const name = serviceName(label)
  const usergroup = typeof o.user === 'string' ? o.user : DEFAULT_USER
  const m = /^([a-z_][a-z0-9_-]*\$?)(?::([a-z_][a-z0-9_-]*))?$/i.exec(usergroup)
  if (!m) throw new RelayError('E_CONFIG', `--user '${usergroup}': expected user:group (e.g. uhppoted:uhppoted)`)
  const user = m[1]!
  const group = m[2] ?? user
  const args: string[] = [...command]
  const lockfile = typeof o.lockfile === 'string' && o.lockfile !== '' ? o.lockfile : `/tmp/${name}.pid`
  args.push('--lockfile', absolute(lockfile, cwd))
  if (typeof o.config === 'string') {
    const { file, section } = splitConfigArg(o.config)
    args.push('--config', `${absolute(file, cwd)}${section !== undefined ? `#${section}` : ''}`)
  }
  // Every other option given to daemonize is passed on; file names made absolute (a unit runs in /).
  for (const [k, v] of Object.entries(o)) {
    if (OWN.has(k) || v === false) continue
    if (v === true) args.push(`--${k}`)
    else for (const one of valuesOf(v)) args.push(`--${k}`, FILE_OPTIONS.has(k) ? absolute(one, cwd) : one)
  }
  args.push('--label', label)
  const text = [
    '[Unit]',
    `Description=edgerelay UDP tunnel (uhppoted-tunnel compatible): ${label}`,
    'Documentation=https://github.com/uhppoted/uhppoted-tunnel',
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${args.map(unitWord).join(' ')}`,
    `User=${user}`,
    `Group=${group}`,
    'Restart=on-failure',
    'RestartSec=5s',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n')
  const dir = typeof o['unit-dir'] === 'string' ? o['unit-dir'] : DEFAULT_UNIT_DIR
  return { name, path: `${dir.replace(/\/+$/, '')}/${name}.service`, text, user, group }
}

/** Whether `name` is in /etc/passwd (or /etc/group): uhppoted-tunnel refuses a missing user too. */
export function accountExists(kind: 'passwd' | 'group', name: string): boolean {
  try {
    return readText(`/etc/${kind}`).split('\n').some((line) => line.split(':')[0] === name)
  } catch {
    return true // no such file to check against (not Linux): let systemd say
  }
}

export interface CommandOutput {
  print(line: string): void
}

export function daemonize(o: CliOptions, cwd: string, out: CommandOutput): void {
  if (typeof o.config !== 'string' && (typeof o.in !== 'string' || typeof o.out !== 'string')) {
    throw new RelayError('E_CONFIG', `daemonize needs --config <file>[#section] (default file ${DEFAULT_CONFIG_FILE}) or --in and --out`)
  }
  const plan = planUnit(o, cwd)
  out.print(`${plan.path}:`)
  out.print(plan.text)
  const missing = [accountExists('passwd', plan.user) ? '' : `user '${plan.user}'`, accountExists('group', plan.group) ? '' : `group '${plan.group}'`].filter(Boolean)
  if (o['dry-run'] === true) {
    if (missing.length) out.print(`note: ${missing.join(' and ')} do(es) not exist yet: create it before starting the service, or pick another with --user`)
    out.print('--dry-run: nothing written')
    return
  }
  if (missing.length) throw new RelayError('E_CONFIG', `--user ${plan.user}:${plan.group}: ${missing.join(' and ')} do(es) not exist: create it (useradd --system ${plan.user}) or pick another with --user`)
  try {
    writeText(plan.path, plan.text)
  } catch (cause) {
    throw new RelayError('E_CONFIG', `cannot write ${plan.path}: ${(cause as Error).message} (run as root, or try --dry-run)`, { cause })
  }
  out.print(`wrote ${plan.path}; to start it now and on every boot:`)
  out.print(`  sudo systemctl daemon-reload && sudo systemctl enable --now ${plan.name}`)
}

export function undaemonize(o: CliOptions, out: CommandOutput): void {
  const label = typeof o.label === 'string' ? o.label : undefined
  if (label === undefined) throw new RelayError('E_CONFIG', 'undaemonize needs --label <name>: the label given to daemonize')
  const name = serviceName(label)
  const dir = typeof o['unit-dir'] === 'string' ? o['unit-dir'] : DEFAULT_UNIT_DIR
  const path = `${dir.replace(/\/+$/, '')}/${name}.service`
  if (!fileExists(path)) throw new RelayError('E_CONFIG', `${path} does not exist: nothing to remove (was it daemonized with another --label?)`)
  out.print(`${path}:`)
  out.print(readText(path))
  out.print(`first stop it if it runs: sudo systemctl disable --now ${name}`)
  if (o['dry-run'] === true) {
    out.print('--dry-run: nothing removed')
    return
  }
  removeFile(path)
  out.print(`removed ${path}; then: sudo systemctl daemon-reload`)
}
