import { readFile, stat } from 'node:fs/promises'
import { join, resolve, sep } from 'node:path'
import type { StaticEntry } from '../../ports/http.ts'

/** Static files with node:fs (works on Node, Bun and Deno); never leaves `root`. */
export async function readStatic(root: string, relPath: string): Promise<StaticEntry | undefined> {
  const base = resolve(root)
  const full = resolve(join(base, relPath))
  if (full !== base && !full.startsWith(base + sep)) return undefined
  try {
    const info = await stat(full)
    if (info.isDirectory()) return { kind: 'directory' }
    if (!info.isFile()) return undefined
    return { kind: 'file', data: new Uint8Array(await readFile(full)) }
  } catch {
    return undefined
  }
}
