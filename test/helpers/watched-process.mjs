// @ts-self-types="./watched-process.d.mts"
/**
 * A child process whose output is kept and can be waited on, for tests and bench scripts alike
 * (plain JavaScript, types in watched-process.d.mts: bench/*.mjs run on node without a
 * TypeScript loader). test/helpers/processes.ts ties one to a test's lifetime.
 */
import { spawn } from 'node:child_process'

/** Starts `cmd` (program and arguments) with stdout and stderr collected into one text. */
export function spawnWatched(cmd, { cwd, env } = {}) {
  const child = spawn(cmd[0], cmd.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let exitedFlag = false
  const waiters = new Set()
  const wake = () => {
    for (const w of [...waiters]) w()
  }
  const onData = (d) => {
    out += d.toString()
    wake()
  }
  child.stdout.on('data', onData)
  child.stderr.on('data', onData)
  const exited = new Promise((resolve) => {
    // 'exit' may come before the last output has been read (a Deno runner lost a final log line
    // that way): settle on 'close', when both pipes are done, or 1 s after 'exit' should a
    // grandchild keep a pipe open.
    const settle = (status) => {
      if (exitedFlag) return
      exitedFlag = true
      resolve(status)
      wake()
    }
    child.on('exit', (code, signal) => void setTimeout(() => settle(code ?? signal ?? -1), 1000))
    child.on('close', (code, signal) => settle(code ?? signal ?? -1))
    child.on('error', (err) => {
      out += `spawn error: ${err.message}\n`
      settle(-1)
    })
  })
  return {
    child,
    output: () => out,
    exited,
    hasExited: () => exitedFlag,
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
    stop(signal = 'SIGTERM') {
      if (!exitedFlag) child.kill(signal)
      return exited
    },
  }
}
