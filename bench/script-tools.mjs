/** Small helpers shared by the bench scripts (sleep, freePort and dnsmasq come from test/helpers, shared with the tests). */
import { execFileSync } from 'node:child_process'
import { sleep } from '../test/helpers/timing.mjs'
import { spawnWatched } from '../test/helpers/watched-process.mjs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
export const BUN = path.join(ROOT, 'node_modules', '.bin', 'bun')
export const DENO = path.join(ROOT, 'node_modules', '.bin', 'deno')
// The README's Deno command: --allow-write for the default lockfile (without it a half warns that it has none).
export const DENO_FLAGS = ['--allow-net', '--allow-read', '--allow-write', '--allow-env', '--allow-sys', '--unstable-net']

/**
 * Runs a TypeScript file of this repository (path relative to ROOT, the cwd) on `runtime` (node
 * through tsx), with `#runtime` on the sources (the edgerelay-source condition; Deno: deno.json).
 */
export function scriptCommand(runtime, script, args) {
  switch (runtime) {
    case 'node': return [process.execPath, ['-C', 'edgerelay-source', '--import', 'tsx', script, ...args]]
    case 'bun': return [BUN, ['--conditions=edgerelay-source', script, ...args]]
    case 'deno': return [DENO, ['run', ...DENO_FLAGS, script, ...args]]
  }
  throw new Error(`unknown runtime ${runtime}`)
}

/** The value after `--name` on the command line, or `fallback`. */
export function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1] : fallback
}

/**
 * Compiles lib/ (`npm run build`): the Node halves run bin/edgerelay.mjs, the compiled CLI npm
 * users get, not the TypeScript sources through tsx.
 */
export function buildPackage() {
  execFileSync(process.execPath, [path.join(ROOT, 'tools/build.mjs')], { stdio: ['ignore', 'ignore', 'inherit'] })
}

/**
 * The processes a bench script starts (watched: output kept, exit awaited), all killed when the
 * script exits however it ends. stop() asks with SIGTERM, then SIGKILLs after `graceMs`.
 */
export function processGroup({ cwd = ROOT, graceMs = 3000 } = {}) {
  const children = new Set()
  process.on('exit', () => children.forEach((c) => c.child.kill('SIGKILL')))
  return {
    children,
    start(cmd) {
      const proc = spawnWatched(cmd, { cwd })
      children.add(proc)
      void proc.exited.then(() => children.delete(proc))
      return proc
    },
    async stop(proc) {
      if (proc.hasExited()) return
      proc.child.kill('SIGTERM')
      if (await Promise.race([proc.exited.then(() => true), sleep(graceMs).then(() => false)])) return
      await proc.stop('SIGKILL')
    },
  }
}
