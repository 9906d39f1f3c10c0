#!/usr/bin/env node
/**
 * `npm run build` (run by `npm pack` / `npm publish` through prepack): the npm package's compiled
 * ES modules and declarations in lib/, one .js and one .d.ts per source file (no bundling, so the
 * connector registry's lazy import()s stay separate modules and a udp↔tcp half still loads no
 * HTTP code).
 *
 * tsc emits both (tsconfig.build.json): the compiler that checks the code also writes it, and
 * rewriteRelativeImportExtensions turns the sources' `./x.ts` specifiers (which Deno and Bun need)
 * into `./x.js`. It leaves them as `.ts` in the declarations; TypeScript maps those to `.d.ts`, but
 * Deno does not when it checks an npm package, so they are rewritten to `.js` here, the form every
 * checker resolves.
 *
 * The CLI (`bin/edgerelay.mjs`) then runs lib/cli/main.js: the same compiled modules bundled by
 * esbuild into one file, with each lazily loaded connector its own chunk (--splitting), because
 * Node spends most of a half's start-up resolving and loading ~100 separate modules (bench/startup.mjs:
 * 156 -> 125 ms to "listening" here). Library users import lib/src, one module per source file.
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildSync } from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))
const out = join(root, 'lib')

rmSync(out, { recursive: true, force: true })
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' })

/** `from './x.ts'`, `import('./x.ts')` and `import("./x.ts")` with a relative path. */
const RELATIVE_TS = /((?:\bfrom\s*|\bimport\s*\(\s*)["'])(\.{1,2}\/[^"']*?)\.ts(["'])/g

function declarations(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return declarations(path)
    return name.endsWith('.d.ts') ? [path] : []
  })
}

let files = 0
for (const file of declarations(out)) {
  const text = readFileSync(file, 'utf8')
  const rewritten = text.replace(RELATIVE_TS, '$1$2.js$3')
  if (rewritten !== text) {
    writeFileSync(file, rewritten)
    files++
  }
  const left = /["']\.{1,2}\/[^"']*\.ts["']/.exec(rewritten)
  if (left) throw new Error(`${file} still names a .ts file: ${left[0]}`)
}
console.log(`lib/: compiled; ${files} declaration files had .ts specifiers rewritten to .js`)

buildSync({
  entryPoints: [join(out, 'src/cli/main.js')],
  outdir: join(out, 'cli'),
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // npm dependencies stay imports (installed beside the package); #runtime resolves to the node adapter.
  packages: 'external',
  chunkNames: 'chunks/[name]-[hash]',
  logLevel: 'warning',
})
console.log('lib/cli/: the CLI bundled (connectors as chunks loaded on demand)')
