/**
 * The process around the CLI: argv, files, signals, exit. node:process and node:fs exist on Node,
 * Bun and Deno alike, so the CLI needs no per-runtime code; the relay core never imports this.
 */
import process from 'node:process'
import { readFileSync, statSync } from 'node:fs'

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
export const exit = (code: number): never => process.exit(code)
export const print = (text: string): void => void process.stdout.write(`${text}\n`)
export const printError = (text: string): void => void process.stderr.write(`${text}\n`)

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
  watchNpmParent(() => stop('SIGTERM to npm'))
}

/**
 * `npx edgerelay` runs npm → sh -c → edgerelay, and npm passes a SIGTERM on to that sh only, which
 * dies without passing it on: edgerelay was left running with PPID 1. So when npm started this
 * process (npm_command is set), its parent going away means the same as SIGTERM.
 */
function watchNpmParent(fn: () => void): void {
  if (!process.env.npm_command) return
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
