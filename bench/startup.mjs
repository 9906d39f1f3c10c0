#!/usr/bin/env node
/**
 * `node bench/startup.mjs [--rounds 10] [--idle-ms 1000]`: how long a half takes from spawn() to
 * its "listening on" log line, and its RSS once idle, for each way of running the CLI: the
 * compiled npm package on Node 20 (bin/edgerelay.mjs, what `npx edgerelay` runs) and on Node 22
 * when test/helpers/node22.ts has installed it, the TypeScript sources through tsx (how the
 * repository's tests run Node), Bun and Deno on the sources. The half is a far half
 * (tcp/server → udp/broadcast), started fresh each round, the variants taking turns.
 * Writes bench/results/startup.md, which `npm run bench` appends to BENCHMARKS.md.
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { arg, BUN, buildPackage, DENO, DENO_FLAGS, ROOT } from './script-tools.mjs'
import { freePort } from '../test/helpers/free-ports.mjs'
import { NODE22_PATH as NODE22 } from '../test/helpers/node22.mjs'

const ROUNDS = Number(arg('rounds', '10'))
const IDLE_MS = Number(arg('idle-ms', '1000'))

const CLI = path.join(ROOT, 'src/cli/main.ts')
const variants = [
  { name: 'node 20, compiled (bin/edgerelay.mjs)', cmd: [process.execPath, path.join(ROOT, 'bin/edgerelay.mjs')] },
  ...(existsSync(NODE22) ? [{ name: 'node 22, compiled (bin/edgerelay.mjs)', cmd: [NODE22, path.join(ROOT, 'bin/edgerelay.mjs')] }] : []),
  { name: 'node 20, sources through tsx', cmd: [process.execPath, '-C', 'edgerelay-source', '--import', 'tsx', CLI] },
  { name: 'bun, sources', cmd: [BUN, '--conditions=edgerelay-source', CLI] },
  { name: 'deno, sources', cmd: [DENO, 'run', ...DENO_FLAGS, CLI] },
]

const rssMiB = (pid) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024

/** One start: ms from spawn to "listening on", and RSS after IDLE_MS of idling. */
async function once(cmd) {
  const port = await freePort()
  const started = performance.now()
  const child = spawn(cmd[0], [...cmd.slice(1), '--in', `tcp/server:127.0.0.1:${port}`, '--out', 'udp/broadcast:127.0.0.1:9'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  try {
    const ms = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not listening within 10 s: ${err}`)), 10_000)
      child.stderr.on('data', (d) => {
        err += d
        if (/listening on/.test(err)) {
          clearTimeout(timer)
          resolve(performance.now() - started)
        }
      })
      child.on('exit', (code) => reject(new Error(`exited with ${code}: ${err}`)))
    })
    await new Promise((r) => setTimeout(r, IDLE_MS))
    return { ms, rss: rssMiB(child.pid) }
  } finally {
    child.kill('SIGKILL')
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', r)))
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

buildPackage()
const samples = new Map(variants.map((v) => [v.name, { ms: [], rss: [] }]))
for (let round = 0; round < ROUNDS; round++) {
  for (const v of variants) {
    const s = await once(v.cmd)
    samples.get(v.name).ms.push(s.ms)
    samples.get(v.name).rss.push(s.rss)
  }
  process.stdout.write(`round ${round + 1}/${ROUNDS}\r`)
}
const rows = variants.map((v) => {
  const s = samples.get(v.name)
  return `| ${v.name} | ${Math.round(median(s.ms))} | ${Math.round(Math.min(...s.ms))}–${Math.round(Math.max(...s.ms))} | ${median(s.rss).toFixed(1)} | ${Math.max(...s.rss).toFixed(1)} |`
})
const compiled = samples.get(variants[0].name)
const verdicts = [
  `${median(compiled.ms) < 150 ? 'PASS' : 'FAIL'} a compiled Node half listens within 150 ms (median ${Math.round(median(compiled.ms))} ms)`,
  `${median(compiled.rss) < 60 ? 'PASS' : 'FAIL'} a compiled Node half idles under 60 MB RSS (median ${median(compiled.rss).toFixed(1)} MiB)`,
]
const md = `## Start-up time and idle memory of a half (bench/startup.mjs)

From spawn() to the half's "listening on" log line, then its RSS after ${IDLE_MS} ms idle; a far half
(\`--in tcp/server:127.0.0.1:$PORT --out udp/broadcast:127.0.0.1:9\`), ${ROUNDS} fresh starts per way of
running it, the ways taking turns. *compiled* is the npm package's JavaScript (lib/, \`npm run build\`),
what \`npx edgerelay\` runs; *sources through tsx* is how the repository's own Node tests run.

| how it runs | start to listening, median ms | min–max ms | idle RSS, median MiB | max MiB |
|---|---:|---:|---:|---:|
${rows.join('\n')}

${verdicts.map((v) => `- ${v}`).join('\n')}

Command: \`node bench/startup.mjs --rounds ${ROUNDS} --idle-ms ${IDLE_MS}\`, ${new Date().toISOString().slice(0, 10)}.
`
console.log(md)
if (!process.argv.includes('--no-write')) writeFileSync(path.join(ROOT, 'bench/results/startup.md'), md)
