import { readFileSync } from 'node:fs'

/**
 * The soft descriptor limit (`ulimit -n`) from /proc/self/limits (Linux; Node, Bun and Deno all
 * read it with node:fs). Undefined elsewhere: the half then assumes the usual 1,024.
 */
export function descriptorLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
    if (!m) return undefined
    return m[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(m[1])
  } catch {
    return undefined
  }
}
