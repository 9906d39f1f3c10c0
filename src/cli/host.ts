/**
 * The process around the CLI: argv, files, signals, exit. node:process, node:fs, node:os and
 * node:crypto exist on Node, Bun and Deno alike, so the CLI needs no per-runtime code; the relay
 * core never imports this.
 */
import process from 'node:process'
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'

export const argv = (): string[] => process.argv.slice(2)
export const readText = (path: string): string => readFileSync(path, 'utf8')
/** A file's permission bits, or undefined where the platform has none to give. */
export function fileMode(path: string): number | undefined {
  try {
    return statSync(path).mode
  } catch {
    return undefined
  }
}
export const env = (name: string): string | undefined => process.env[name]
export const fileExists = (path: string): boolean => existsSync(path)
export const exit = (code: number): never => process.exit(code)
export const print = (text: string): void => void process.stdout.write(`${text}\n`)
export const printError = (text: string): void => void process.stderr.write(`${text}\n`)
export const pid = (): number => process.pid
export const cwd = (): string => process.cwd()
export const tempDir = (): string => tmpdir()
export const sha1Hex = (text: string): string => createHash('sha1').update(text).digest('hex')
export const makeDir = (path: string): void => void mkdirSync(path, { recursive: true })
export const writeText = (path: string, text: string): void => writeFileSync(path, text)
export const appendText = (path: string, text: string): void => appendFileSync(path, text)
export const removeFile = (path: string): void => unlinkSync(path)

/** Creates `path` with `text` only if it does not exist yet (O_EXCL); false if it does. */
export function createExclusive(path: string, text: string): boolean {
  let fd: number
  try {
    fd = openSync(path, 'wx', 0o644)
  } catch (err) {
    if ((err as { code?: string }).code === 'EEXIST') return false
    throw err
  }
  try {
    writeSync(fd, text)
  } finally {
    closeSync(fd)
  }
  return true
}

/**
 * Whether a process with this id runs. On Linux /proc says, and a zombie (exited, not yet reaped
 * by its parent) counts as gone: its lock is as released as an flock of a dead process. That works
 * wherever /proc may be read (Deno needs --allow-all for it). Elsewhere, signal 0 checks without
 * sending anything (Deno needs --allow-run, and a zombie still counts as running there).
 */
export function processExists(id: number): boolean {
  const state = procState(id)
  if (state !== undefined) return state !== 'Z' && state !== 'X'
  if (hasProc()) return false
  try {
    process.kill(id, 0)
    return true
  } catch (err) {
    const code = (err as { code?: string }).code
    // EPERM: it exists but belongs to another user. Anything else (Deno without --allow-run
    // may not signal at all): cannot tell, so it counts as running.
    return code !== 'ESRCH'
  }
}

/** The state letter of /proc/<id>/stat (R, S, Z, ...), or undefined without such a file. */
function procState(id: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${id}/stat`, 'utf8')
    // "pid (comm) S ...": comm may hold spaces and parentheses; the state follows the last ')'.
    return stat.charAt(stat.lastIndexOf(')') + 2) || undefined
  } catch {
    return undefined
  }
}

function hasProc(): boolean {
  return procState(process.pid) !== undefined
}

/** Whether processExists can tell (false on Deno without --allow-run). */
export function canCheckProcesses(): boolean {
  if (hasProc()) return true
  try {
    process.kill(process.pid, 0)
    return true
  } catch {
    return false
  }
}

/** The command that runs this CLI again (for systemd units): the runtime and its script. */
export function selfCommand(): string[] {
  const script = process.argv[1]
  // A `bun build --compile` binary is its own script.
  if (!script || script.startsWith('/$bunfs/')) return [process.execPath]
  if ('Deno' in globalThis) return [process.execPath, 'run', '--allow-net', '--allow-read', '--allow-write', '--allow-env', '--allow-sys', '--unstable-net', script]
  return [process.execPath, script]
}

/** Calls `fn` on every SIGHUP (udp/listen:* rescans local addresses, docs/addresses.md U4). */
export function onReloadSignal(fn: () => void): void {
  try {
    process.on('SIGHUP', fn)
  } catch {
    // A runtime or platform without SIGHUP: the periodic rescan still runs.
  }
}

/**
 * Calls `fn` once on the first SIGINT or SIGTERM (or when npm, having started us, is gone: see
 * watchNpmParent); a second signal exits at once.
 */
export function onShutdownSignal(fn: (signal: string) => void): void {
  let seen = false
  const stop = (why: string) => {
    if (seen) process.exit(130)
    seen = true
    fn(why)
  }
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => stop(sig))
  watchNpmParent(() => stop(process.env.EDGERELAY_WORKER ? 'SIGTERM (its --workers primary is gone)' : 'SIGTERM to npm'))
}

/**
 * `npx edgerelay` runs npm → sh -c → edgerelay, and npm passes a SIGTERM on to that sh only, which
 * dies without passing it on: edgerelay was left running with PPID 1. So when npm started this
 * process (npm_command is set), its parent going away means the same as SIGTERM; and so for a
 * --workers worker (EDGERELAY_WORKER) whose primary is gone (killed with SIGKILL).
 */
function watchNpmParent(fn: () => void): void {
  if (!process.env.npm_command && !process.env.EDGERELAY_WORKER) return
  const parent = process.ppid
  const timer = setInterval(() => {
    if (process.ppid === parent) return
    clearInterval(timer)
    fn()
  }, 200)
  // Not a reason to keep running by itself: unref() on Node and Bun, Deno.unrefTimer on Deno.
  if (typeof timer === 'number') (globalThis as { Deno?: { unrefTimer(id: number): void } }).Deno?.unrefTimer(timer)
  else (timer as { unref?: () => void }).unref?.()
}
