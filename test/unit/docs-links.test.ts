import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { test } from '../harness.ts'
import { anchorsOf, checkDocs, slug } from '../../tools/docs-links.ts'
import { ROOT } from '../helpers/processes.ts'

test('every reference into docs/ resolves: files, heading anchors, address rule IDs; nothing cites the old design notes; the layer table matches tools/layers.ts', () => {
  const found = checkDocs(ROOT)
  assert.deepEqual(found.map((p) => `${p.file}:${p.line}: ${p.message}`), [])
})

/** A throwaway repository with the given files. */
function tree(t: { defer(fn: () => unknown): void }, files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'docs-links-'))
  t.defer(() => rmSync(root, { recursive: true, force: true }))
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true })
    writeFileSync(join(root, path), text)
  }
  return root
}

// The names of the notes that used to live outside the repository, built so this file cites none.
const OLD_DESIGN = ['DESIGN', 'md'].join('.')
const OLD_RUNTIMES = ['notes', 'runtimes.md'].join('/')
const OLD_ENDPOINTS = ['spec', 'endpoints'].join('/') + '.md'

test('the docs check fails on a missing file, a missing anchor, an undefined rule ID, a stale citation and a wrong layer row', (t) => {
  // Fixtures are written with DOCS/ and SPEC standing for the real words, so that this file itself
  // holds no reference for the check above to find.
  const real = (text: string) => text.replaceAll('DOCS/', 'docs/').replaceAll('SPEC ', 'spec ')
  const root = tree(t, {
    'docs/addresses.md': '# Addresses\n\n## Racing\n\n| rule | what |\n|---|---|\n| <a id="c3"></a>**C3** | staggering |\n| <a id="u4"></a>**U4** | rescans |\n',
    'docs/architecture.md': '# Architecture\n\n## Layers\n\n| layer | may import | npm packages | touches a runtime |\n|---|---|---|---|\n| `base` | ports | — | no |\n',
    'src/good.ts': real('// Staggering: DOCS/addresses.md C3 (and DOCS/addresses.md#racing, SPEC U4, DOCS/addresses.md C3 and U4).\n'),
    'src/bad.ts': real([
      '// DOCS/addresses.md C3 and C99',
      '// SPEC U77',
      '// DOCS/missing.md',
      '// DOCS/addresses.md#nowhere',
      `// ${OLD_DESIGN} §3`,
      `// ${OLD_RUNTIMES} §3.20`,
      `// ${OLD_ENDPOINTS} P4`,
      '',
    ].join('\n')),
    'README.md': real('[racing](DOCS/addresses.md#racing) and [gone](DOCS/addresses.md#gone) and [file](DOCS/nothing.md)\n'),
  })
  const found = checkDocs(root)
  const messages = found.map((p) => `${p.file}:${p.line}: ${p.message}`)
  const has = (re: RegExp) => assert.ok(messages.some((m) => re.test(m)), `no problem matching ${re}:\n${messages.join('\n')}`)
  has(/^src\/bad\.ts:1: .*rule C99/)
  has(/^src\/bad\.ts:2: .*rule U77/)
  has(/^src\/bad\.ts:3: docs\/missing\.md: no such file/)
  has(/^src\/bad\.ts:4: .*has no heading or anchor #nowhere/)
  has(/^src\/bad\.ts:5: cites 'DESIGN\.md'/)
  has(/^src\/bad\.ts:6: cites 'notes\/runtimes\.md'/)
  has(/^src\/bad\.ts:7: cites 'spec\/endpoints\.md'/)
  has(/^README\.md:1: .*has no heading or anchor #gone/)
  has(/^README\.md:1: link \(docs\/nothing\.md\): no such file/)
  has(/^docs\/architecture\.md:1: base may import nothing in tools\/layers\.ts, the table says ports/)
  has(/^docs\/architecture\.md:1: the layer table has no row for core/)
  // The good references next to the bad ones are not reported (the positive control).
  assert.ok(!messages.some((m) => m.startsWith('src/good.ts')), messages.join('\n'))
  assert.ok(!messages.some((m) => /#racing|rule C3\b|rule U4\b/.test(m)), messages.join('\n'))
  assert.equal(messages.filter((m) => m.startsWith('src/bad.ts:1:')).length, 1, 'C3 is defined, only C99 is reported')
})

test('anchors are GitHub heading slugs (punctuation dropped, repeats numbered) plus explicit ids, outside code fences', () => {
  assert.equal(slug("Deno node:net ignores ipv6Only"), 'deno-nodenet-ignores-ipv6only')
  assert.equal(slug('The hello (tcp and tls)'), 'the-hello-tcp-and-tls')
  assert.equal(slug('Bun.udpSocket ignores `flags`'), 'bunudpsocket-ignores-flags')
  const anchors = anchorsOf('# Title\n## Same\n## Same\n```\n## Not a heading\n```\n| <a id="c3"></a>**C3** |\n')
  assert.deepEqual([...anchors].sort(), ['c3', 'same', 'same-1', 'title'])
})
