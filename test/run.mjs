#!/usr/bin/env node
/**
 * `npm test`: runs every test/**\/*.test.ts file on Node, Bun and Deno (override with
 * RUNTIMES=node,bun or by naming files), then prints per-runtime counts and one summary line.
 * First it checks the programs the tests talk to (tools/peers.txt) and says in one block which are
 * missing and how to install them; tests that need one are skipped with that reason. With CI=true
 * a test skipped for something the machine lacks (a peer, network namespaces) counts as a failure;
 * one that does not apply to a runtime by design (its `skip` reason) does not.
 */
import { spawn, spawnSync } from 'node:child_process'
import { accessSync, constants, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const bin = (name) => join(root, 'node_modules', '.bin', name)

export const runtimeCommands = {
  // The repository runs its TypeScript sources: the edgerelay-source condition points package.json's
  // `#runtime` and the package's own exports (edgerelay/browser) at them; without it, lib/ is used.
  node: [process.execPath, ['-C', 'edgerelay-source', '--import', 'tsx', 'test/entry.ts']],
  bun: [bin('bun'), ['--conditions=edgerelay-source', 'test/entry.ts']],
  deno: [bin('deno'), ['run', '-A', '--unstable-net', '--conditions', 'edgerelay-source', 'test/entry.ts']],
}

function findTests(dir) {
  const out = []
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...findTests(path))
    else if (name.endsWith('.test.ts')) out.push(relative(root, path))
  }
  return out
}

/** Whether a tools/peers.txt check passes: a command on PATH, or py:<module> in Debian's python3. */
function have(check) {
  if (check.startsWith('py:')) return spawnSync('/usr/bin/python3', ['-c', `import ${check.slice(3)}`], { stdio: 'ignore' }).status === 0
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, check), constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

const peers = readFileSync(join(root, 'tools/peers.txt'), 'utf8').split('\n')
  .map((line) => line.trim().split(/\s+/))
  .filter(([check]) => check && !check.startsWith('#'))
const missing = peers.filter(([check]) => !have(check)).map(([check, pkg]) => [check, pkg])
const ci = process.env.CI === 'true' || process.env.CI === '1'
const missingBlock = missing.length === 0 ? '' : [
  `Missing ${missing.length} of the ${peers.length} programs the tests talk to (tools/peers.txt):`,
  ...missing.map(([check, pkg]) => `  ${check.padEnd(20)} Debian package ${pkg}`),
  `Install them with:  npm run setup    (as root or with sudo: apt-get install -y ${[...new Set(missing.map(([, pkg]) => pkg))].join(' ')})`,
  `The tests that need them are skipped${ci ? '; CI=true counts each such skip as a failure' : ''}.`,
].join('\n')
if (missingBlock) console.log(`${missingBlock}\n`)

const args = process.argv.slice(2)
const files = args.length ? args : findTests(join(root, 'test'))
const runtimes = (process.env.RUNTIMES ?? 'node,bun,deno').split(',').filter(Boolean)

function runOne(runtime) {
  const [cmd, base] = runtimeCommands[runtime]
  return new Promise((resolve) => {
    const started = Date.now()
    const child = spawn(cmd, [...base, ...files], { cwd: root, env: { ...process.env, TMPDIR: scratch, EDGERELAY_TEST_RUNTIME: runtime, EDGERELAY_MISSING_PEERS: JSON.stringify(missing) }, stdio: ['ignore', 'pipe', 'pipe'] })
    let summary
    let pending = ''
    const skips = []
    const onLine = (line) => {
      if (line.startsWith('##SUMMARY ')) summary = JSON.parse(line.slice(10))
      else if (line.length) process.stdout.write(`[${runtime}] ${line}\n`)
      if (line.startsWith('skip - ')) skips.push(line.slice(7))
    }
    child.stdout.on('data', (d) => {
      pending += d
      const lines = pending.split('\n')
      pending = lines.pop()
      lines.forEach(onLine)
    })
    child.stderr.on('data', (d) => {
      if (process.env.TEST_VERBOSE) process.stderr.write(`[${runtime}:stderr] ${d}`)
    })
    // A hung runtime must not hang CI: the whole run of one runtime is bounded.
    const limit = Number(process.env.TEST_RUNTIME_LIMIT_MS ?? 600_000)
    const killer = setTimeout(() => child.kill('SIGKILL'), limit)
    child.on('close', (code) => {
      clearTimeout(killer)
      if (pending) onLine(pending)
      const seconds = ((Date.now() - started) / 1000).toFixed(1)
      if (!summary) summary = { runtime, passed: 0, failed: 1, skipped: 0, failures: [`${runtime} runner exited with ${code} and no summary`] }
      summary.seconds = seconds
      summary.skips = skips
      resolve(summary)
    })
  })
}

// One temporary folder for the whole run, removed at the end: what the tests and the halves they
// start leave in the temp folder (default lockfiles of killed halves, certificates) goes with it.
const scratch = mkdtempSync(join(tmpdir(), 'edgerelay-test-'))
// The runtimes run side by side: the tests wait on sockets and peers far more than they compute
// (about 0.6 of the 2 cores in a serial run), so this nearly halves the wall time. TEST_SERIAL=1
// runs one runtime after the other.
let results = []
try {
  if (process.env.TEST_SERIAL) for (const runtime of runtimes) results.push(await runOne(runtime))
  else results = await Promise.all(runtimes.map(runOne))
} finally {
  rmSync(scratch, { recursive: true, force: true })
}

let passed = 0
let failed = 0
let skipped = 0
console.log('')
for (const r of results) {
  passed += r.passed
  failed += r.failed
  skipped += r.skipped
  console.log(`${r.runtime.padEnd(5)} ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped (${r.seconds} s)`)
  for (const f of r.failures) console.log(`  ✗ [${r.runtime}] ${f.split('\n')[0]}`)
  for (const s of r.skips ?? []) console.log(`  - [${r.runtime}] skipped: ${s}`)
}
if (missingBlock) console.log(`\n${missingBlock}`)
const unavailable = results.reduce((n, r) => n + (r.unavailable ?? 0), 0)
if (ci && unavailable > 0) {
  // Such a skip in CI hides a missing install step: it fails the run.
  console.log(`CI=true: ${unavailable} test${unavailable === 1 ? '' : 's'} skipped for something this machine lacks, counted as failed`)
  failed += unavailable
  skipped -= unavailable
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
process.exit(failed > 0 ? 1 : 0)
