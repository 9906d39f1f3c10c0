/**
 * Stands in for src/adapter/index.ts in edge bundles (examples/edge/build.mjs): an edge half is
 * always given its runtime (edgeRuntime()), so the Node/Bun/Deno auto-detection is never used
 * and must not drag node:* modules into the bundle.
 */
import type { Runtime } from '../types.ts'

export type { Runtime } from '../types.ts'

export function detectRuntimeName(): never {
  throw new Error('edge bundle: pass the edge runtime to startHalf({ runtime })')
}

export function currentRuntime(): Promise<Runtime> {
  return Promise.reject(new Error('edge bundle: pass the edge runtime to startHalf({ runtime })'))
}
