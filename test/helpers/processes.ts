import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import process from 'node:process'
import { fileURLToPath } from 'node:url'
import type { TestContext } from '../harness.ts'
import { spawnWatched, type WatchedProcess } from './watched-process.mjs'
import { withFreePorts } from './with-free-ports.ts'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const BIN = `${ROOT}node_modules/.bin`

/**
 * The exact commands README gives for running the CLI from a checkout on each runtime (the
 * TypeScript sources; test/e2e/package.test.ts runs the compiled package).
 */
export const CLI: Record<'node' | 'bun' | 'deno', string[]> = {
  node: ['node', '-C', 'edgerelay-source', '--import', 'tsx', `${ROOT}src/cli/main.ts`],
  bun: [`${BIN}/bun`, '--conditions=edgerelay-source', `${ROOT}src/cli/main.ts`],
  deno: [`${BIN}/deno`, 'run', '--allow-net', '--allow-read', '--allow-write', '--allow-env', '--allow-sys', '--unstable-net', `${ROOT}src/cli/main.ts`],
}

/** A started program: its output, waits on it, its exit (see watched-process.mjs). */
export type Proc = WatchedProcess

/** Starts a program whose lifetime is bound to the test: killed at the end whatever happens. */
export function startProcess(t: TestContext, cmd: string[], opts: { cwd?: string; env?: Record<string, string | undefined> } = {}): Proc {
  const proc = spawnWatched(cmd, { cwd: opts.cwd ?? ROOT, env: { ...process.env, NO_COLOR: '1', ...opts.env } })
  t.defer(() => proc.stop('SIGKILL'))
  return proc
}

type StartOptions = { cwd?: string; env?: Record<string, string | undefined>; timeoutMs?: number }

/**
 * Starts `cmd(ports)` for the test on `count` free ports and waits until its output matches
 * `ready` (or `ready(ports)`); starts it again on other ports when one was taken before the
 * program bound it.
 */
export function startOnFreePorts(t: TestContext, count: number, cmd: (ports: number[]) => string[], ready: RegExp | ((ports: number[]) => RegExp), opts: StartOptions = {}): Promise<{ proc: Proc; ports: number[] }> {
  return withFreePorts(t, count, async (ports, t) => {
    const proc = startProcess(t, cmd(ports), opts)
    await proc.waitFor(typeof ready === 'function' ? ready(ports) : ready, opts.timeoutMs)
    return { proc, ports }
  })
}

/** startOnFreePorts with one port. */
export async function startOnFreePort(t: TestContext, cmd: (port: number) => string[], ready: RegExp, opts: StartOptions = {}): Promise<{ proc: Proc; port: number }> {
  const { proc, ports } = await startOnFreePorts(t, 1, ([port]) => cmd(port!), ready, opts)
  return { proc, port: ports[0]! }
}

/**
 * `--lockfile <a file of its own>` for a CLI half whose default lockfile (named after its
 * arguments) a killed half may have left: one started again with the same arguments after a
 * SIGKILL, or one on fixed ports that every runtime's run starts alike. A Deno half cannot check
 * the holder's PID and keeps such a lockfile, and on a Deno test runner a killed half stays a
 * zombie whose PID still answers. The folder is removed when the test ends.
 */
export function ownLockfile(t: TestContext): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'edgerelay-lock-'))
  t.defer(() => rmSync(dir, { recursive: true, force: true }))
  return ['--lockfile', join(dir, 'half.pid')]
}

/** Runs a program to completion and returns its exit code and output. */
export function run(cmd: string[], timeoutMs = 15_000, opts: { cwd?: string; env?: Record<string, string | undefined> } = {}): Promise<{ code: number | string; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd[0]!, cmd.slice(1), { cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code: code ?? signal ?? -1, stdout, stderr })
    })
    child.on('error', (err) => {
      clearTimeout(timer)
      resolve({ code: -1, stdout, stderr: stderr + err.message })
    })
  })
}

/**
 * Asserts a process stopped by `stop()` shut down cleanly. Deno's node:child_process reports a
 * child that we signalled as killed by that signal even when the child caught it and exited 0
 * (checked by running the same CLI under a Node parent, which sees exit code 0), so on a Deno
 * test runner the shutdown log line is the evidence instead of the exit code.
 */
export function cleanExit(code: number | string, output: string, runner: string): boolean {
  if (code === 0) return true
  return runner === 'deno' && code === 'SIGTERM' && /SIGTERM received, shutting down/.test(output) && !/ERROR/.test(output)
}
