import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { test } from '../harness.ts'
import { checkLayers, importsOf, staticClosure } from '../../tools/layers.ts'
import { ROOT } from '../helpers/processes.ts'

test('src/ follows the layering of docs/architecture.md: no upward import, no cycle, runtime globals only in adapters', () => {
  const found = checkLayers(ROOT)
  assert.deepEqual(found.map((v) => `${v.file}: ${v.message}`), [])
})

/** A throwaway tree with the given files under src/. */
function tree(t: { defer(fn: () => unknown): void }, files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'layers-'))
  t.defer(() => rmSync(root, { recursive: true, force: true }))
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, 'src', path)), { recursive: true })
    writeFileSync(join(root, 'src', path), text)
  }
  return root
}

test('the layer check fails on an upward import, a cycle, a runtime module and a runtime global', (t) => {
  const root = tree(t, {
    'base/a.ts': "import { x } from '../core/b.ts'\nexport const a = 1\n",
    'core/b.ts': "import { c } from './c.ts'\nexport const x = 2\n",
    'core/c.ts': "import { x } from './b.ts'\nimport fs from 'node:fs'\nexport const c = Deno.env\n",
    'net/d.ts': "import { runtime } from '#runtime'\n",
  })
  const messages = checkLayers(root).map((v) => `${v.file}: ${v.message}`)
  assert.ok(messages.some((m) => m.startsWith('src/base/a.ts: base may not import core')), messages.join('\n'))
  assert.ok(messages.some((m) => m.includes('import cycle') && m.includes('core/b.ts') && m.includes('core/c.ts')), messages.join('\n'))
  assert.ok(messages.some((m) => m.includes('may not import node:fs')), messages.join('\n'))
  assert.ok(messages.some((m) => m.includes('runtime global (Deno.e')), messages.join('\n'))
  assert.ok(messages.some((m) => m.includes('may not pick the runtime itself')), messages.join('\n'))
})

test('imports are read from static, type-only, re-export and literal dynamic forms, not from comments', () => {
  const specs = importsOf(`import a from './a.ts'\nimport type { B } from './b.ts'\nexport * from './c.ts'\nconst d = await import('./d.ts')\n// import e from './e.ts'\n/* import f from './f.ts' */\nimport './g.ts'\n`)
  assert.deepEqual(specs.sort(), ['./a.ts', './b.ts', './c.ts', './d.ts', './g.ts'])
})

test('a udp↔tcp half loads no HTTP, WebSocket or gRPC code: those connectors and packages come only through dynamic imports', () => {
  // What startHalf, the node adapter and the three connectors of such a half import before any
  // lazy import() runs (the registry loads each connector kind on first use).
  const loaded = staticClosure(ROOT, ['src/half/start-half.ts', 'src/adapter/node/index.ts', 'src/connectors/udp-listen.ts', 'src/connectors/tcp.ts', 'src/connectors/udp-broadcast.ts'])
  const names = [...loaded].map((f) => (f.startsWith('/') ? f.slice(ROOT.length) : f))
  for (const unwanted of ['hono', 'ws', '@hono/node-server', 'node:http', 'node:http2', 'node:https', 'src/connectors/ws.ts', 'src/connectors/grpc.ts', 'src/connectors/http-in.ts']) {
    assert.ok(!names.includes(unwanted), `${unwanted} is loaded eagerly by a udp↔tcp half:\n${names.sort().join('\n')}`)
  }
  // The check sees what it must: the connectors and node modules such a half does use.
  for (const wanted of ['src/connectors/stream-tunnel.ts', 'src/core/tunnel/session.ts', 'node:dgram', 'node:net']) assert.ok(names.includes(wanted), `${wanted} missing from:\n${names.sort().join('\n')}`)
})
