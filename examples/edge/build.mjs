#!/usr/bin/env node
/**
 * Bundles worker.ts into dist/worker.js for workerd. The worker passes its edge runtime to
 * startHalf explicitly, so nothing of the Node, Bun or Deno adapters is reachable; the bundle is
 * checked to import nothing from node:* (the worker runs without nodejs_compat). Wrangler runs
 * this as its build command.
 */
import { build } from 'esbuild'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const here = (p) => fileURLToPath(new URL(p, import.meta.url))
const outfile = here('./dist/worker.js')

await build({
  entryPoints: [here('./worker.ts')],
  outfile,
  bundle: true,
  format: 'esm',
  target: 'es2022',
  platform: 'neutral',
  mainFields: ['module', 'main'],
  conditions: ['workerd', 'worker', 'browser'],
  external: ['cloudflare:*'],
  logLevel: 'warning',
})

const nodeImports = readFileSync(outfile, 'utf8').match(/(?:from|import\()\s*["']node:[^"']+["']/g)
if (nodeImports) {
  console.error(`dist/worker.js imports Node built-ins: ${[...new Set(nodeImports)].join(', ')}`)
  process.exit(1)
}
