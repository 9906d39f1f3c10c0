#!/usr/bin/env node
/**
 * `node bench/latency-floor.mjs [--rounds 5] [--seconds 3] [--runtimes node,bun,deno]`: how much
 * of the tunnel's added latency is edgerelay's, and how much any two-process JavaScript tunnel pays.
 *
 * Closed loop (bench/udp-ping.mjs), 127.0.0.1 only, against one dnsmasq. Per runtime it starts
 * bench/bare-tunnel.mjs (two processes, node:dgram + node:net, nothing else) and an edgerelay
 * tcp+protobuf tunnel, then measures direct, socat (a fresh one per round: socat without fork
 * serves one client), the bare tunnel and edgerelay one after another, `rounds` times, so slow
 * drift hits every path alike. Reports each path's added median (median of the round medians).
 * Writes bench/results/latency-floor.md, which `npm run bench` appends to BENCHMARKS.md.
 */
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { startDnsmasq } from '../test/helpers/dnsmasq.mjs'
import { freePort } from '../test/helpers/free-ports.mjs'
import { sleep } from '../test/helpers/timing.mjs'
import { arg, processGroup, ROOT, scriptCommand } from './script-tools.mjs'

const ROUNDS = Number(arg('rounds', '5'))
const SECONDS = Number(arg('seconds', '3'))
const RUNTIMES = arg('runtimes', 'node,bun,deno').split(',')

const group = processGroup()
const { children, stop } = group
const start = (cmd, args) => group.start([cmd, ...args])

/** One closed-loop run against port; its median in µs, or an error with the process outputs. */
async function ping(port, seconds = SECONDS) {
  const child = start(process.execPath, [path.join(ROOT, 'bench/udp-ping.mjs'), String(port), String(seconds)])
  const code = await child.exited
  const line = child.output().trim().split('\n').at(-1)
  const r = code === 0 ? JSON.parse(line) : undefined
  if (!r?.medianMs) throw new Error(`udp-ping on ${port}: exit ${code}: ${child.output().slice(-300)}`)
  return r.medianMs * 1000
}

/** Waits until something on port answers DNS (a tunnel is up end to end). */
async function answers(port, who) {
  for (let i = 0; i < 40; i++) {
    if (await ping(port, 0.05).then(() => true, () => false)) return
    await sleep(250)
  }
  throw new Error(`${who}: no DNS answer on ${port} within 10 s:\n${[...children].map((c) => c.output().slice(-300)).join('\n')}`)
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function measure(runtime, dnsPort) {
  const [bareTun, bareIn, erTun, erIn, socatIn] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()]
  const run = (script, args) => start(...scriptCommand(runtime, script, args))
  const farBare = run('bench/bare-tunnel.mjs', ['far', String(bareTun), String(dnsPort)])
  const farEr = run('src/cli/main.ts', ['--in', `tcp/server:127.0.0.1:${erTun}`, '--out', `udp/broadcast:127.0.0.1:${dnsPort}`, '--log-level', 'warn'])
  await sleep(runtime === 'node' ? 1500 : 800)
  const nearBare = run('bench/bare-tunnel.mjs', ['near', String(bareIn), String(bareTun)])
  const nearEr = run('src/cli/main.ts', ['--in', `udp/listen:127.0.0.1:${erIn}`, '--out', `tcp/client:127.0.0.1:${erTun}`, '--log-level', 'warn'])
  const added = { direct: [], socat: [], bare: [], edgerelay: [] }
  try {
    await answers(bareIn, `bare tunnel on ${runtime}`)
    await answers(erIn, `edgerelay on ${runtime}`)
    // Warm both tunnels' JIT before the first measured round.
    await ping(bareIn, 1)
    await ping(erIn, 1)
    for (let round = 0; round < ROUNDS; round++) {
      const socat = start('socat', [`UDP-LISTEN:${socatIn},reuseaddr,bind=127.0.0.1`, `UDP:127.0.0.1:${dnsPort}`])
      await sleep(200)
      const direct = await ping(dnsPort)
      added.direct.push(direct)
      added.socat.push((await ping(socatIn)) - direct)
      await stop(socat)
      added.bare.push((await ping(bareIn)) - direct)
      added.edgerelay.push((await ping(erIn)) - direct)
    }
  } finally {
    await Promise.all([farBare, farEr, nearBare, nearEr].map(stop))
  }
  const m = Object.fromEntries(Object.entries(added).map(([k, v]) => [k, median(v)]))
  return { runtime, directUs: m.direct, socatUs: m.socat, bareUs: m.bare, edgerelayUs: m.edgerelay }
}

const { port: dnsPort, process: dns } = await startDnsmasq({ start: (cmd) => start(cmd[0], cmd.slice(1)) })
const results = []
try {
  await answers(dnsPort, 'dnsmasq')
  for (const runtime of RUNTIMES) {
    process.stdout.write(`${runtime} ... `)
    const r = await measure(runtime, dnsPort)
    results.push(r)
    console.log(`socat ${r.socatUs.toFixed(0)} µs, bare tunnel ${r.bareUs.toFixed(0)} µs, edgerelay ${r.edgerelayUs.toFixed(0)} µs added`)
  }
} finally {
  await stop(dns)
}

const us = (v) => `${Math.round(v)} µs`
const x = (a, b) => `${(a / b).toFixed(2)}×`
const rows = results.map((r) =>
  `| ${r.runtime} | ${us(r.directUs)} | ${us(r.socatUs)} | ${us(r.bareUs)} (${x(r.bareUs, r.socatUs)}) | ${us(r.edgerelayUs)} (${x(r.edgerelayUs, r.socatUs)}) | ${us(r.edgerelayUs - r.bareUs)} (${x(r.edgerelayUs, r.bareUs)}) |`)
const span = (values, fmt) => {
  const [lo, hi] = [Math.min(...values), Math.max(...values)]
  return fmt(lo) === fmt(hi) ? fmt(lo) : `${fmt(lo)} to ${fmt(hi)}`
}
const summary = results.length
  ? `The bare tunnel alone adds ${span(results.map((r) => r.bareUs / r.socatUs), (v) => `${v.toFixed(2)}×`)} socat's latency; ` +
    `edgerelay adds ${span(results.map((r) => r.edgerelayUs - r.bareUs), (v) => `${Math.round(v)} µs`)} on top of it.`
  : ''
const md = `## Latency floor of a two-process JavaScript tunnel (bench/latency-floor.mjs)

Closed loop (\`bench/udp-ping.mjs\`), ${ROUNDS} rounds of ${SECONDS} s per path, the paths taking turns in each round;
median of the round medians. *bare tunnel* is [bench/bare-tunnel.mjs](bench/bare-tunnel.mjs): two processes on the
same runtime, node:dgram and node:net, a 2-byte length per frame, TCP_NODELAY, and nothing else (one client, no
codec, flows, hello or heartbeat). *edgerelay* is the tcp tunnel with the protobuf codec, started as in the table
above. Target (ii) asks edgerelay for at most 2× socat's added median.

| runtime | direct median | socat adds | bare tunnel adds (× socat) | edgerelay adds (× socat) | edgerelay over bare |
|---|---:|---:|---:|---:|---:|
${rows.join('\n')}

${summary}

Command: \`node bench/latency-floor.mjs --rounds ${ROUNDS} --seconds ${SECONDS} --runtimes ${RUNTIMES.join(',')}\`, ${new Date().toISOString().slice(0, 10)}.
`
writeFileSync(path.join(ROOT, 'bench/results/latency-floor.md'), md)
console.log(`\n${md}`)
