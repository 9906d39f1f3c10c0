/**
 * Keeps the references into docs/ true: every `docs/<file>.md` named in the code, tests and
 * top-level documents exists, every `#anchor` after it is a heading or an anchor of that file,
 * every address rule ID cited (`docs/addresses.md C3`, `spec U4`) is defined in docs/addresses.md,
 * relative links in Markdown files resolve, nothing cites the design notes that used to live
 * outside the repository, and the layer table of docs/architecture.md is the one in
 * tools/layers.ts. `npm test` runs it (test/unit/docs-links.test.ts); `npm run lint:docs` prints
 * the report.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'
import { LAYERS, PACKAGES, RUNTIME_LAYERS } from './layers.ts'

export interface DocProblem {
  /** Repository-relative path and 1-based line. */
  file: string
  line: number
  message: string
}

/** Where references are looked for: folders (walked) and single files, relative to the root. */
const SCANNED = ['src', 'test', 'bench', 'examples', 'codecs', 'tools', 'docs', 'README.md', 'BENCHMARKS.md', 'CONTRIBUTING.md', 'mod.ts']
const TEXT_FILE = /\.(ts|mjs|js|md|py|proto|avsc|toml|html|json)$/
const SKIPPED_DIRS = new Set(['node_modules', '.git', 'dist'])
/** Generated outputs (bench/results is rewritten by every bench run), not hand-kept references. */
const SKIPPED_PATHS = new Set(['bench/results'])

/** Citations of documents that are not in the repository (their content now lives in docs/). */
const STALE: { pattern: RegExp; instead: string }[] = [
  { pattern: /DESIGN\.md|\bDESIGN §/, instead: 'docs/architecture.md or docs/wire-protocol.md' },
  { pattern: /notes\/runtimes\.md|(?<![\w./-])runtimes\.md\s*§/, instead: 'docs/runtimes.md#<heading>' },
  { pattern: /spec\/endpoints\.md|(?<![\w./-])endpoints\.md|\bspec §/, instead: 'docs/addresses.md <rule ID>' },
  { pattern: /notes\/(?:dualstack-facts|style-anchors)\.md/, instead: 'docs/addresses.md or docs/architecture.md' },
]

const RULE_ID = String.raw`(?:MC|[PSCFMUE])\d{1,2}`
const RULE_LIST = String.raw`${RULE_ID}(?:\s*(?:,|–|-|\/|\band\b)\s*${RULE_ID})*`
/** `docs/addresses.md C3`, `addresses.md P2, P3 and P8`, `spec C1–C8`: the IDs cited. */
const RULE_CITATION = new RegExp(String.raw`(?:(?<![\w/.-])(?:docs\/)?addresses\.md|\bspec)[ \t]+(${RULE_LIST})\b`, 'g')
/** `docs/wire-protocol.md` with an optional `#anchor`, anywhere in a file (root-relative). */
const DOC_REFERENCE = /(?<![\w./-])docs\/([\w.-]+\.md)(#[\w-]+)?/g
/** A Markdown link target: `](path)`, `](path#anchor)`, `](#anchor)`. */
const MARKDOWN_LINK = /\]\(([^)\s]+)\)/g
/** The rule rows of docs/addresses.md: `<a id="c3"></a>**C3**`. */
const RULE_ROW = /<a id="([a-z]+\d+)"><\/a>\*\*([A-Z]+\d+)\*\*/g

function listFiles(root: string): string[] {
  const out: string[] = []
  const walk = (path: string): void => {
    if (!existsSync(path) || SKIPPED_PATHS.has(relative(root, path))) return
    if (statSync(path).isDirectory()) {
      for (const name of readdirSync(path).sort()) if (!SKIPPED_DIRS.has(name)) walk(join(path, name))
    } else if (TEXT_FILE.test(path)) {
      out.push(path)
    }
  }
  for (const entry of SCANNED) walk(join(root, entry))
  return out
}

/** GitHub's heading anchor: lowercase, punctuation dropped, spaces as hyphens. */
export function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-')
}

/** Every anchor a Markdown file offers: heading slugs (with GitHub's -1, -2 for repeats) and explicit ids. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>()
  const seen = new Map<string, number>()
  let fenced = false
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) fenced = !fenced
    if (fenced) continue
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (heading) {
      const base = slug(heading[1]!)
      const n = seen.get(base) ?? 0
      seen.set(base, n + 1)
      anchors.add(n === 0 ? base : `${base}-${n}`)
    }
    for (const m of line.matchAll(/\bid="([^"]+)"/g)) anchors.add(m[1]!)
  }
  return anchors
}

/** The rule IDs docs/addresses.md defines (its anchored rule rows), and rows whose anchor and label disagree. */
export function rulesOf(markdown: string): { ids: Set<string>; mismatched: string[] } {
  const ids = new Set<string>()
  const mismatched: string[] = []
  for (const m of markdown.matchAll(RULE_ROW)) {
    if (m[1] !== m[2]!.toLowerCase()) mismatched.push(`${m[2]} has the anchor #${m[1]}`)
    ids.add(m[2]!)
  }
  return { ids, mismatched }
}

/** One row of the layer table: `| \`core\` | base, ports | — | no |`. */
interface LayerRow {
  imports: string[]
  packages: string[]
  runtime: boolean
}

function listCell(cell: string): string[] {
  const text = cell.replace(/`/g, '').trim()
  return text === '—' || text === '' ? [] : text.split(',').map((s) => s.trim()).sort()
}

/** The table under `## Layers` in docs/architecture.md. */
export function layerTableOf(markdown: string): Map<string, LayerRow> {
  const rows = new Map<string, LayerRow>()
  const start = markdown.search(/^## Layers\s*$/m)
  if (start < 0) return rows
  const section = markdown.slice(start).split(/\n## /)[0]!
  for (const line of section.split('\n')) {
    const cells = line.split('|').slice(1, -1)
    const name = /^\s*`([\w/#]+)`\s*$/.exec(cells[0] ?? '')?.[1]
    if (!name || cells.length < 4) continue
    rows.set(name, { imports: listCell(cells[1]!), packages: listCell(cells[2]!), runtime: /yes/.test(cells[3]!) })
  }
  return rows
}

function compareLayers(table: Map<string, LayerRow>): string[] {
  const problems: string[] = []
  const same = (a: readonly string[], b: readonly string[]) => [...a].sort().join(',') === [...b].sort().join(',')
  for (const [layer, imports] of Object.entries(LAYERS)) {
    const row = table.get(layer)
    if (!row) {
      problems.push(`the layer table has no row for ${layer} (tools/layers.ts LAYERS has one)`)
      continue
    }
    if (!same(row.imports, imports)) problems.push(`${layer} may import ${imports.join(', ') || 'nothing'} in tools/layers.ts, the table says ${row.imports.join(', ') || 'nothing'}`)
    const packages = PACKAGES[layer] ?? []
    if (!same(row.packages, packages)) problems.push(`${layer} may use the packages ${packages.join(', ') || 'none'} in tools/layers.ts, the table says ${row.packages.join(', ') || 'none'}`)
    if (row.runtime !== RUNTIME_LAYERS.has(layer)) problems.push(`${layer} ${RUNTIME_LAYERS.has(layer) ? 'touches' : 'does not touch'} a runtime in tools/layers.ts, the table says the opposite`)
  }
  for (const layer of table.keys()) if (!(layer in LAYERS)) problems.push(`the layer table has a row for ${layer}, which tools/layers.ts does not know`)
  return problems
}

function lineAt(text: string, index: number): number {
  let line = 1
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 10) line++
  return line
}

export function checkDocs(root: string): DocProblem[] {
  const problems: DocProblem[] = []
  const anchorCache = new Map<string, Set<string> | undefined>()
  const anchorsIn = (path: string): Set<string> | undefined => {
    if (!anchorCache.has(path)) anchorCache.set(path, existsSync(path) && statSync(path).isFile() ? anchorsOf(readFileSync(path, 'utf8')) : undefined)
    return anchorCache.get(path)
  }
  const addressesPath = join(root, 'docs', 'addresses.md')
  const rules = existsSync(addressesPath) ? rulesOf(readFileSync(addressesPath, 'utf8')) : { ids: new Set<string>(), mismatched: [] }
  for (const m of rules.mismatched) problems.push({ file: 'docs/addresses.md', line: 1, message: `rule ${m}` })

  const architecturePath = join(root, 'docs', 'architecture.md')
  if (existsSync(architecturePath)) {
    for (const message of compareLayers(layerTableOf(readFileSync(architecturePath, 'utf8')))) problems.push({ file: 'docs/architecture.md', line: 1, message })
  }

  for (const path of listFiles(root)) {
    const file = relative(root, path)
    const text = readFileSync(path, 'utf8')
    const report = (index: number, message: string) => problems.push({ file, line: lineAt(text, index), message })

    for (const { pattern, instead } of STALE) {
      for (const m of text.matchAll(new RegExp(pattern.source, 'g'))) report(m.index!, `cites '${m[0]}', which is not in the repository: point to ${instead}`)
    }

    const checkTarget = (index: number, target: string, anchor: string | undefined, shown: string) => {
      if (!existsSync(target)) return report(index, `${shown}: no such file`)
      if (anchor === undefined) return
      const anchors = anchorsIn(target)
      if (anchors && !anchors.has(anchor)) report(index, `${shown}: ${relative(root, target)} has no heading or anchor #${anchor}`)
    }

    for (const m of text.matchAll(DOC_REFERENCE)) checkTarget(m.index!, join(root, 'docs', m[1]!), m[2]?.slice(1), m[0])

    if (file.endsWith('.md')) {
      for (const m of text.matchAll(MARKDOWN_LINK)) {
        const link = m[1]!
        if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue // http:, mailto:
        const hash = link.indexOf('#')
        const pathPart = hash < 0 ? link : link.slice(0, hash)
        const anchor = hash < 0 ? undefined : link.slice(hash + 1)
        const target = pathPart === '' ? path : normalize(join(dirname(path), decodeURIComponent(pathPart)))
        checkTarget(m.index!, target, target.endsWith('.md') ? anchor : undefined, `link (${link})`)
      }
    }

    for (const m of text.matchAll(RULE_CITATION)) {
      for (const id of m[1]!.match(new RegExp(RULE_ID, 'g')) ?? []) {
        if (!rules.ids.has(id)) report(m.index!, `'${m[0]}' cites rule ${id}, which docs/addresses.md does not define`)
      }
    }
  }
  return problems
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const found = checkDocs(join(dirname(new URL(import.meta.url).pathname), '..'))
  for (const p of found) console.log(`${p.file}:${p.line}: ${p.message}`)
  console.log(found.length === 0 ? 'docs: every reference resolves' : `docs: ${found.length} problem(s)`)
  process.exit(found.length === 0 ? 0 : 1)
}
