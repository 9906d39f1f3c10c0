/**
 * The layering rule of docs/architecture.md, checked over the import graph of src/: every layer
 * (a folder under src/, or one runtime's adapter folder) may import only the layers listed for it,
 * no file takes part in an import cycle, and runtime globals (node:*, Bun, Deno, process) appear
 * only in the layers allowed to touch a runtime. `npm test` runs it (test/unit/layers.test.ts);
 * `npm run lint:layers` prints the report.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'

/** What each layer may import, bottom to top. `#runtime` is the adapter picked by import conditions. */
export const LAYERS: Record<string, readonly string[]> = {
  base: [],
  ports: ['base'],
  protocol: ['base'],
  net: ['base', 'ports', 'protocol'],
  core: ['base', 'ports', 'protocol', 'net'],
  connectors: ['base', 'ports', 'protocol', 'net', 'core'],
  'adapter/node': ['base', 'ports'],
  'adapter/bun': ['base', 'ports', 'adapter/node'],
  'adapter/deno': ['base', 'ports', 'adapter/node'],
  'adapter/web': ['base', 'ports'],
  'adapter/edge': ['base', 'ports', 'adapter/web'],
  half: ['base', 'ports', 'protocol', 'net', 'core', 'connectors'],
  browser: ['base', 'ports', 'protocol', 'core', 'adapter/web'],
  edge: ['base', 'ports', 'protocol', 'net', 'core', 'connectors', 'half', 'adapter/edge', 'adapter/web'],
  cli: ['base', 'ports', 'protocol', 'net', 'core', 'connectors', 'half', '#runtime'],
}

/** Layers that may use a runtime's own modules and globals (node:*, Bun.*, Deno.*, process). */
export const RUNTIME_LAYERS = new Set(['adapter/node', 'adapter/bun', 'adapter/deno', 'adapter/edge', 'cli'])

/** npm packages a layer may import (everything else must come through a port). */
export const PACKAGES: Record<string, readonly string[]> = {
  'adapter/node': ['ws', '@hono/node-server'],
  'adapter/bun': ['ws'],
  'adapter/deno': ['ws'],
  connectors: ['hono'],
  cli: ['smol-toml'],
}

export interface Violation {
  file: string
  message: string
}

export function layerOf(srcRelative: string): string | undefined {
  const parts = srcRelative.split('/')
  if (parts.length < 2) return undefined
  if (parts[0] === 'adapter') return parts.length > 2 ? `adapter/${parts[1]}` : undefined
  return parts[0]
}

function listFiles(dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...listFiles(path))
    else if (name.endsWith('.ts')) out.push(path)
  }
  return out
}

/** Import specifiers of a file: static imports, re-exports and literal dynamic imports (type-only too: they are coupling). */
export function importsOf(source: string, opts: { dynamic?: boolean } = {}): string[] {
  const specs: string[] = []
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1')
  for (const m of code.matchAll(/(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]/g)) specs.push(m[1]!)
  for (const m of code.matchAll(/(?:^|[\s;])import\s*['"]([^'"]+)['"]/g)) specs.push(m[1]!)
  if (opts.dynamic !== false) for (const m of code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) specs.push(m[1]!)
  return specs
}

/**
 * Everything `entries` load before any dynamic import() runs: relative files (resolved from the
 * repository root) and bare specifiers (packages, node:*), followed through static imports only.
 */
export function staticClosure(root: string, entries: string[]): Set<string> {
  const seen = new Set<string>()
  const todo = entries.map((e) => join(root, e))
  while (todo.length > 0) {
    const file = todo.pop()!
    if (seen.has(file)) continue
    seen.add(file)
    if (!file.startsWith('/')) continue
    for (const spec of importsOf(readFileSync(file, 'utf8'), { dynamic: false })) {
      if (spec.startsWith('.')) todo.push(normalize(join(dirname(file), spec)))
      else seen.add(spec)
    }
  }
  return seen
}

const RUNTIME_GLOBAL = /(?<![\w.$'"`])(?:Deno|Bun|process)\.[a-zA-Z]/

export function checkLayers(root: string): Violation[] {
  const src = join(root, 'src')
  const files = listFiles(src)
  const violations: Violation[] = []
  const graph = new Map<string, string[]>()
  for (const path of files) {
    const rel = relative(src, path)
    const file = `src/${rel}`
    const layer = layerOf(rel)
    const text = readFileSync(path, 'utf8')
    const deps: string[] = []
    if (!layer || !(layer in LAYERS)) {
      violations.push({ file, message: `is in no known layer (add its folder to LAYERS in tools/layers.ts and to docs/architecture.md)` })
      continue
    }
    for (const spec of importsOf(text)) {
      if (spec.startsWith('.')) {
        const target = normalize(join(dirname(path), spec))
        const targetRel = relative(src, target)
        if (targetRel.startsWith('..')) {
          violations.push({ file, message: `imports ${spec}, outside src/` })
          continue
        }
        deps.push(target)
        const to = layerOf(targetRel)
        if (to && to !== layer && !LAYERS[layer]!.includes(to)) violations.push({ file, message: `${layer} may not import ${to} (${spec})` })
      } else if (spec === '#runtime') {
        if (!LAYERS[layer]!.includes('#runtime')) violations.push({ file, message: `${layer} may not pick the runtime itself (#runtime): take it as a parameter` })
      } else if (spec.startsWith('node:') || spec.startsWith('cloudflare:')) {
        if (!RUNTIME_LAYERS.has(layer)) violations.push({ file, message: `${layer} may not import ${spec}: runtime modules belong in src/adapter/` })
      } else {
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!
        if (!(PACKAGES[layer] ?? []).includes(pkg)) violations.push({ file, message: `${layer} may not import the package ${pkg} (allowed: ${(PACKAGES[layer] ?? []).join(', ') || 'none'})` })
      }
    }
    if (!RUNTIME_LAYERS.has(layer)) {
      const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '')
      const m = RUNTIME_GLOBAL.exec(code)
      if (m) violations.push({ file, message: `${layer} touches a runtime global (${m[0]}...): go through a port` })
    }
    graph.set(path, deps)
  }
  for (const cycle of findCycles(graph)) violations.push({ file: `src/${relative(src, cycle[0]!)}`, message: `import cycle: ${cycle.map((f) => relative(src, f)).join(' → ')}` })
  return violations
}

/** Every elementary cycle found by a depth-first walk (one report per back edge). */
function findCycles(graph: Map<string, string[]>): string[][] {
  const state = new Map<string, 1 | 2>()
  const stack: string[] = []
  const cycles: string[][] = []
  const visit = (node: string): void => {
    state.set(node, 1)
    stack.push(node)
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue
      const s = state.get(next)
      if (s === 1) cycles.push([...stack.slice(stack.indexOf(next)), next])
      else if (s === undefined) visit(next)
    }
    stack.pop()
    state.set(node, 2)
  }
  for (const node of graph.keys()) if (!state.has(node)) visit(node)
  return cycles
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const found = checkLayers(join(dirname(new URL(import.meta.url).pathname), '..'))
  for (const v of found) console.log(`${v.file}: ${v.message}`)
  console.log(found.length === 0 ? 'layers: no violation' : `layers: ${found.length} violation(s)`)
  process.exit(found.length === 0 ? 0 : 1)
}
