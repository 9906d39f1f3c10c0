import assert from 'node:assert/strict'
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import process from 'node:process'
import { test, waitFor } from '../harness.ts'
import { node22 } from '../helpers/node22.mjs'
import { withFreePorts } from '../helpers/with-free-ports.ts'
import { ROOT, run, startProcess } from '../helpers/processes.ts'

// The npm package as a user gets it: `npm pack` (which builds lib/ through prepack), the tarball
// installed into an empty project outside the repository, then used there on each runtime.

const BIN = `${ROOT}node_modules/.bin`
const FIXTURES = `${ROOT}test/fixtures/consumer`
const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8'))

interface Installed {
  /** The packed tarball's file list (paths inside the package). */
  files: string[]
  /** The consumer project the tarball is installed in. */
  project: string
}

let installed: Promise<Installed> | undefined

/** Packs once per runner and installs the tarball into a fresh project; removed when the runner exits. */
function install(): Promise<Installed> {
  installed ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgerelay-pack-'))
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
    const packed = await run(['npm', 'pack', '--json', '--pack-destination', dir], 120_000)
    assert.equal(packed.code, 0, packed.stderr)
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('[')))
    const project = join(dir, 'consumer')
    mkdirSync(project)
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
    for (const f of ['index.ts', 'tsconfig.json', 'relay.mjs']) copyFileSync(join(FIXTURES, f), join(project, f))
    // Only the tarball and what a Node TypeScript user has anyway (@types/node); npm's cache serves
    // the dependencies when it can.
    const add = await run(['npm', 'install', '--no-audit', '--no-fund', '--prefer-offline', join(dir, info.filename), '@types/node@20'], 180_000, { cwd: project })
    assert.equal(add.code, 0, add.stderr)
    return { files: info.files.map((f: { path: string }) => f.path), project }
  })()
  return installed
}

test('npm pack ships compiled JS, declarations, the bin, README and LICENSE, and nothing else', async () => {
  const { files } = await install()
  const unexpected = files.filter((f) => !/^lib\/.*\.(js|d\.ts)$/.test(f) && !['bin/edgerelay.mjs', 'README.md', 'LICENSE', 'package.json'].includes(f))
  assert.deepEqual(unexpected, [], 'files outside lib/*.js, lib/*.d.ts and the named ones')
  for (const f of ['LICENSE', 'README.md', 'bin/edgerelay.mjs', 'lib/mod.js', 'lib/mod.d.ts']) assert.ok(files.includes(f), `${f} missing from the tarball`)
  // Every target the package names outside the repository-only edgerelay-source condition is shipped.
  const targets: string[] = []
  const collect = (v: unknown, key = ''): void => {
    if (typeof v === 'string') {
      if (key !== 'edgerelay-source') targets.push(v.replace(/^\.\//, ''))
    } else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) if (k !== 'edgerelay-source') collect(x, k)
  }
  collect(pkg.exports)
  collect(pkg.imports)
  collect(pkg.bin)
  for (const [subpath, entry] of Object.entries(pkg.exports as Record<string, unknown>)) {
    if (subpath !== './package.json') assert.ok(typeof entry === 'object' && entry && 'types' in entry, `exports['${subpath}'] has no types`)
  }
  const missing = targets.filter((target) => !files.includes(target))
  assert.deepEqual(missing, [], 'exports/imports/bin targets not in the tarball')
}, { timeout: 150_000 })

test('the installed edgerelay command is the bundled CLI, whose static imports reach no HTTP, WebSocket or Hono code', async () => {
  const { project } = await install()
  const root = join(project, 'node_modules', 'edgerelay')
  assert.match(readFileSync(join(root, 'bin', 'edgerelay.mjs'), 'utf8'), /import\('\.\.\/lib\/cli\/main\.js'\)/)
  // Statically imported modules from lib/cli/main.js: what any half loads before it picks its connectors.
  const seen = new Set<string>()
  const external: string[] = []
  const walk = (file: string): void => {
    if (seen.has(file)) return
    seen.add(file)
    for (const m of readFileSync(file, 'utf8').matchAll(/^import\s(?:[^;]*?\sfrom\s)?"([^"]+)"/gm)) {
      if (m[1]!.startsWith('.')) walk(join(file, '..', m[1]!))
      else external.push(m[1]!)
    }
  }
  walk(join(root, 'lib', 'cli', 'main.js'))
  assert.ok(seen.size > 1 && external.includes('node:dgram'), `the walk found the bundle's imports: ${[...seen].join(', ')}`)
  const heavy = external.filter((s) => /^(ws|hono|@hono\/|node:http|node:https|node:http2)/.test(s))
  assert.deepEqual(heavy, [], 'loaded by every half')
  // The connectors that need them are chunks loaded on demand.
  assert.match(readFileSync(join(root, 'lib', 'cli', 'main.js'), 'utf8'), /import\("\.\/chunks\/ws-[\w-]+\.js"\)/)
}, { timeout: 150_000 })

test('the installed package imports and relays through a real tunnel on this runtime (on Node: 20 and 22), with no loader', async (t) => {
  const { project } = await install()
  const commands: [string, string[]][] = t.runtime === 'node'
    ? [['node 20', [process.execPath, 'relay.mjs']], ['node 22', [await node22(), 'relay.mjs']]]
    : t.runtime === 'bun'
      ? [['bun', [`${BIN}/bun`, 'relay.mjs']]]
      : [['deno', [`${BIN}/deno`, 'run', '-A', 'relay.mjs']]]
  for (const [name, cmd] of commands) {
    const r = await run(cmd, 30_000, { cwd: project })
    assert.equal(r.code, 0, `${name}: ${r.stderr}`)
    assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop()!), { runtime: t.runtime, reply: 'echo:ping' }, `${name}: ${r.stdout}`)
  }
}, { timeout: 240_000 })

test('a strict NodeNext TypeScript project type-checks against the installed declarations (every exports subpath)', async (t) => {
  const { project } = await install()
  const tsc = await run(['node', `${ROOT}node_modules/typescript/bin/tsc`, '-p', 'tsconfig.json'], 60_000, { cwd: project })
  assert.equal(tsc.code, 0, `tsc: ${tsc.stdout}${tsc.stderr}`)
  if (t.runtime === 'deno') {
    // Deno checks an npm package's .d.ts files itself (and resolves no `.ts` specifier in them).
    const check = await run([`${BIN}/deno`, 'check', 'index.ts'], 60_000, { cwd: project })
    assert.equal(check.code, 0, `deno check: ${check.stdout}${check.stderr}`)
  }
}, { timeout: 150_000 })

test('the installed edgerelay command answers --version through npx (and bun x --bun on Bun)', async (t) => {
  const { project } = await install()
  const cmd = t.runtime === 'bun' ? [`${BIN}/bun`, 'x', '--bun', 'edgerelay', '--version'] : t.runtime === 'deno' ? [`${BIN}/deno`, 'run', '-A', 'node_modules/edgerelay/bin/edgerelay.mjs', '--version'] : ['npx', 'edgerelay', '--version']
  const r = await run(cmd, 30_000, { cwd: project })
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, new RegExp(`^edgerelay ${pkg.version.replaceAll('.', '\\.')}\\b`))
}, { timeout: 150_000 })

/** Processes whose command line has an argument containing `marker`. */
function pidsWith(marker: string): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).flatMap((d) => {
    try {
      return readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').some((a) => a.includes(marker)) ? [Number(d)] : []
    } catch {
      return [] // gone meanwhile
    }
  })
}

// npx runs npm → sh -c → node: npm hands SIGTERM to the sh alone, which dies without passing it on.
test('SIGTERM to `npx edgerelay` stops the half, not only npm (Bun: bun x --bun; Deno: deno run npm:edgerelay)', async (t) => {
  const { project } = await install()
  const launcher = t.runtime === 'bun' ? [`${BIN}/bun`, 'x', '--bun', 'edgerelay'] : t.runtime === 'deno' ? [`${BIN}/deno`, 'run', '-A', 'npm:edgerelay'] : ['npx', 'edgerelay']
  const { proc, listen } = await withFreePorts(t, 1, async ([port], t) => {
    const listen = `udp/listen:127.0.0.1:${port}`
    const proc = startProcess(t, [...launcher, '--in', listen, '--out', 'udp/broadcast:127.0.0.1:9'], { cwd: project })
    t.defer(() => pidsWith(listen).forEach((pid) => process.kill(pid, 'SIGKILL')))
    await proc.waitFor(/listening on/, 20_000)
    return { proc, listen }
  })
  const started = pidsWith(listen)
  assert.ok(started.length >= 1, 'the half is running')
  proc.child.kill('SIGTERM')
  await waitFor(() => pidsWith(listen).length === 0, `every process of the half to exit (left: ${pidsWith(listen).join(', ')})`, 5000)
  await proc.exited
  assert.match(proc.output(), /shutting down/)
}, { timeout: 150_000 })
