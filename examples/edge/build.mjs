#!/usr/bin/env node
/**
 * Bundles worker.ts into dist/worker.js for workerd. One redirect: startHalf looks up the
 * runtime it runs on with a dynamic import of src/adapter/index.ts (Node, Bun and Deno adapters,
 * full of node:* imports). The worker always passes its edge runtime, so that import is dead code
 * here; it is replaced by a module that says so, and the bundle is checked to import nothing from
 * node:* (the worker runs without nodejs_compat). Wrangler runs this as its build command.
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
  plugins: [{
    name: 'edge-runtime-only',
    setup(b) {
      b.onResolve({ filter: /adapter\/index\.ts$/ }, () => ({ path: here('../../src/adapter/edge/no-autodetect.ts') }))
    },
  }],
})

const nodeImports = readFileSync(outfile, 'utf8').match(/(?:from|import\()\s*["']node:[^"']+["']/g)
if (nodeImports) {
  console.error(`dist/worker.js imports Node built-ins: ${[...new Set(nodeImports)].join(', ')}`)
  process.exit(1)
}
