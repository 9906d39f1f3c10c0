import { readFile, realpath, stat } from 'node:fs/promises'
import { join, resolve, sep } from 'node:path'
import type { StaticEntry } from '../../ports/http.ts'

const inside = (base: string, full: string) => full === base || full.startsWith(base + sep)

/**
 * Static files with node:fs (works on Node, Bun and Deno); never leaves `root`: neither by the
 * path (checked by the core too) nor through a symbolic link that points out of it (the real path
 * of what would be served must be under the real path of the root).
 */
export async function readStatic(root: string, relPath: string): Promise<StaticEntry | undefined> {
  const base = resolve(root)
  const full = resolve(join(base, relPath))
  if (!inside(base, full)) return undefined
  try {
    const [realBase, realFull] = await Promise.all([realpath(base), realpath(full)])
    if (!inside(realBase, realFull)) return undefined
    const info = await stat(realFull)
    if (info.isDirectory()) return { kind: 'directory' }
    if (!info.isFile()) return undefined
    return { kind: 'file', data: new Uint8Array(await readFile(realFull)) }
  } catch {
    return undefined
  }
}
