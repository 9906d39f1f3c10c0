/**
 * Picks the adapter for the runtime we are running on. This file and src/adapter/<runtime>/ are
 * the only places that look at runtime globals.
 */
import type { Runtime } from './types.ts'

export type { Runtime } from './types.ts'

export function detectRuntimeName(): 'node' | 'bun' | 'deno' {
  const g = globalThis as Record<string, unknown>
  if (g.Bun !== undefined) return 'bun'
  if (g.Deno !== undefined) return 'deno'
  return 'node'
}

let cached: Promise<Runtime> | undefined

/** The adapter for the current runtime (loaded lazily so Node never parses Bun or Deno code). */
export function currentRuntime(): Promise<Runtime> {
  cached ??= (async () => {
    switch (detectRuntimeName()) {
      case 'bun':
        return (await import('./bun/index.ts')).bunRuntime
      case 'deno':
        return (await import('./deno/index.ts')).denoRuntime
      default:
        return (await import('./node/index.ts')).nodeRuntime
    }
  })()
  return cached
}
