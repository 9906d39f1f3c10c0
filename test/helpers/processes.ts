import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { TestContext } from '../harness.ts'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const BIN = `${ROOT}node_modules/.bin`

/**
 * The exact commands README gives for running the CLI from a checkout on each runtime (the
 * TypeScript sources; test/e2e/package.test.ts runs the compiled package).
 */
export const CLI: Record<'node' | 'bun' | 'deno', string[]> = {
  node: ['node', '-C', 'edgerelay-source', '--import', 'tsx', `${ROOT}src/cli/main.ts`],
  bun: [`${BIN}/bun`, '--conditions=edgerelay-source', `${ROOT}src/cli/main.ts`],
  deno: [`${BIN}/deno`, 'run', '--allow-net', '--allow-read', '--allow-env', '--allow-sys', '--unstable-net', `${ROOT}src/cli/main.ts`],
}

export interface Proc {
  child: ChildProcess
  /** Everything written to stdout and stderr so far. */
  output(): string
  /** Waits until the output matches (or the process exits, or time runs out). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>
  stop(signal?: NodeJS.Signals): Promise<number | string>
}

/** Starts a program whose lifetime is bound to the test: killed at the end whatever happens. */
export function startProcess(t: TestContext, cmd: string[], opts: { cwd?: string } = {}): Proc {
  const child = spawn(cmd[0]!, cmd.slice(1), { cwd: opts.cwd ?? ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } })
  let out = ''
  const waiters = new Set<() => void>()
  const onData = (d: Buffer) => {
    out += d.toString()
    for (const w of waiters) w()
  }
  child.stdout!.on('data', onData)
  child.stderr!.on('data', onData)
  const exited = new Promise<number | string>((resolve) => {
    // 'exit' may come before the last output has been read (a Deno runner lost a final log line
    // that way): settle on 'close', when both pipes are done, or 1 s after 'exit' should a
    // grandchild keep a pipe open.
    let settled = false
    const settle = (status: number | string) => {
      if (settled) return
      settled = true
      resolve(status)
      for (const w of waiters) w()
    }
    child.on('exit', (code, signal) => void setTimeout(() => settle(code ?? signal ?? -1), 1000))
    child.on('close', (code, signal) => settle(code ?? signal ?? -1))
    child.on('error', (err) => {
      out += `spawn error: ${err.message}\n`
      settle(-1)
    })
  })
  let exitedFlag = false
  void exited.then(() => (exitedFlag = true))
  t.defer(async () => {
    if (!exitedFlag) {
      child.kill('SIGKILL')
      await exited
    }
  })
  return {
    child,
    output: () => out,
    exited,
    waitFor(pattern, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = pattern.exec(out)
          if (m) {
            cleanup()
            resolve(m[0])
          } else if (exitedFlag) {
            cleanup()
            reject(new Error(`process exited before printing ${pattern}; output:\n${out}`))
          }
        }
        const timer = setTimeout(() => {
          cleanup()
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${pattern}; output:\n${out}`))
        }, timeoutMs)
        const cleanup = () => {
          clearTimeout(timer)
          waiters.delete(check)
        }
        waiters.add(check)
        check()
      })
    },
    async stop(signal = 'SIGTERM') {
      if (!exitedFlag) child.kill(signal)
      return exited
    },
  }
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
