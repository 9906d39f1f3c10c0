#!/usr/bin/env node
/**
 * `npm run bench`: UDP request/reply through edgerelay, side by side in one run with the direct
 * path and socat's single hop, plus the codec micro-benchmark on each runtime.
 *
 *   node bench/run.mjs [--seconds 5] [--low-seconds 4] [--only node,protobuf] [--skip-codecs]
 *                      [--codec-ms 60] [--warmup 1] [--cpu-prof] [--docs | --no-docs]
 *
 * One dnsmasq on a free 127.0.0.1 port answers a few A records. dnsperf (one client socket) queries
 *   direct        dnsmasq itself,
 *   socat         `socat UDP-LISTEN:p,reuseaddr UDP:127.0.0.1:dns` (fresh process per dnsperf run),
 *   tcp           edgerelay near half (udp/listen → tcp/client) + far half (tcp/server →
 *                 udp/broadcast to dnsmasq), for each codec on node, bun and deno,
 * first with 100 queries outstanding (throughput) and then with 1 (latency at low load). direct and
 * socat are measured at the start and again at the end; ratios use the mean of both.
 *
 * Writes bench/results/latest.json, latest.md and qps.svg, and (on a full run, or with --docs)
 * BENCHMARKS.md. Every process it starts runs in its own process group and is killed on exit,
 * on errors and on Ctrl-C. Traffic stays on 127.0.0.1.
 */
import { execFileSync, spawn } from 'node:child_process'
import dgram from 'node:dgram'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { dnsmasqArgs, dnsQuery, RECORDS, startDnsmasq as startSharedDnsmasq } from '../test/helpers/dnsmasq.mjs'
import { freePort as sharedFreePort } from '../test/helpers/free-ports.mjs'
import { sleep } from '../test/helpers/timing.mjs'
import { format as formatProfile, summarise as summariseProfile } from './profile-summary.mjs'
import { BUN, buildPackage, DENO, DENO_FLAGS, ROOT, scriptCommand } from './script-tools.mjs'
import { chartFoot, chartFrame, chartHead, COLORS, esc, referenceLine } from './chart-parts.mjs'

const RESULTS = path.join(ROOT, 'bench', 'results')
const PROFILES = path.join(os.tmpdir(), 'edgerelay-bench-profiles')
const RUNTIMES = ['node', 'bun', 'deno']
const CODECS = ['protobuf', 'avro', 'msgpack', 'uhppoted']
const HIGH_Q = 100
const LOW_Q = 1
const DNSPERF_TIMEOUT_S = 5
/** Other work on the machine above this (percent of a core) makes a target measurement noisy. */
const NOISY_CPU = 50

// ---------------------------------------------------------------------------------------------
// Options

const USAGE = `usage: node bench/run.mjs [options]   (npm run bench -- [options])
  --seconds N       length of each -q ${HIGH_Q} measurement (default 5)
  --low-seconds N   length of each -q ${LOW_Q} measurement (default 4)
  --loop-seconds N  length of each closed-loop latency measurement, bench/udp-ping.mjs (default 3)
  --warmup N        dnsperf warm-up before measuring a tunnel, seconds (default 1; 0 = none)
  --only a,b        restrict to these runtimes and/or codecs, e.g. node,protobuf or bun,deno
  --skip-codecs     skip the codec micro-benchmark
  --skip-streams    skip the TCP stream benchmarks (bench/streams.mjs, run when BENCHMARKS.md is written)
  --codec-ms N      round length of the codec micro-benchmark (default 60)
  --cpu-prof        run the Node halves under --cpu-prof and print where their CPU time goes
  --docs, --no-docs write BENCHMARKS.md or not (default: only on a full run)`

function parseOptions(argv) {
  const o = { seconds: 5, lowSeconds: 4, loopSeconds: 3, warmup: 1, runtimes: RUNTIMES, codecs: CODECS, only: '', skipCodecs: false, codecMs: 60, cpuProf: false, docs: undefined }
  for (let i = 0; i < argv.length; i++) {
    const [key, inline] = argv[i].includes('=') ? [argv[i].slice(0, argv[i].indexOf('=')), argv[i].slice(argv[i].indexOf('=') + 1)] : [argv[i], undefined]
    const value = () => {
      const v = inline ?? argv[++i]
      if (v === undefined) fatal(`${key} needs a value\n${USAGE}`)
      return v
    }
    const number = (min) => {
      const v = value()
      const n = Number(v)
      if (!Number.isFinite(n) || n < min) fatal(`${key}: '${v}' is not a number ≥ ${min}`)
      return n
    }
    switch (key) {
      case '--seconds': o.seconds = number(1); break
      case '--low-seconds': o.lowSeconds = number(1); break
      case '--loop-seconds': o.loopSeconds = number(1); break
      case '--warmup': o.warmup = number(0); break
      case '--codec-ms': o.codecMs = number(10); break
      case '--skip-codecs': o.skipCodecs = true; break
      case '--skip-streams': o.skipStreams = true; break
      case '--cpu-prof': o.cpuProf = true; break
      case '--docs': o.docs = true; break
      case '--no-docs': o.docs = false; break
      case '--only': {
        o.only = value()
        const tokens = o.only.split(',').map((t) => t.trim()).filter(Boolean)
        const unknown = tokens.filter((t) => !RUNTIMES.includes(t) && !CODECS.includes(t))
        if (unknown.length) fatal(`--only: unknown ${unknown.join(', ')} (runtimes: ${RUNTIMES.join(', ')}; codecs: ${CODECS.join(', ')})`)
        const rts = tokens.filter((t) => RUNTIMES.includes(t))
        const cds = tokens.filter((t) => CODECS.includes(t))
        if (rts.length) o.runtimes = rts
        if (cds.length) o.codecs = cds
        break
      }
      case '-h': case '--help': console.log(USAGE); process.exit(0)
      default: fatal(`unknown option ${argv[i]}\n${USAGE}`)
    }
  }
  const full = !o.only && !o.skipCodecs
  o.writeDocs = o.docs ?? full
  return o
}

function fatal(message) {
  console.error(`bench: ${message}`)
  process.exit(2)
}

// ---------------------------------------------------------------------------------------------
// Processes: each child gets its own process group, so socat's forks and anything a runtime
// starts go down with it.

const children = new Set()
let aborting = false
let tmp = ''

function start(cmd, args, { stdout, stderr } = {}) {
  if (aborting) throw new Error('aborted')
  const out = stdout ? fs.openSync(stdout, 'a') : 'ignore'
  const err = stderr ? fs.openSync(stderr, 'a') : out
  const child = spawn(cmd, args, { cwd: ROOT, detached: true, stdio: ['ignore', out, err] })
  if (typeof out === 'number') fs.closeSync(out)
  if (typeof err === 'number' && err !== out) fs.closeSync(err)
  children.add(child)
  child.exited = new Promise((resolve) => {
    child.once('error', (error) => {
      children.delete(child)
      resolve({ code: -1, signal: null, error })
    })
    child.once('exit', (code, signal) => {
      children.delete(child)
      resolve({ code, signal })
    })
  })
  return child
}

function killGroup(child, signal) {
  if (!child.pid) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    // already gone
  }
}

async function stop(child, graceMs = 3000) {
  if (!child) return
  if (child.exitCode === null && child.signalCode === null && child.pid) {
    killGroup(child, 'SIGTERM')
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs)
    await child.exited
    clearTimeout(timer)
  }
  killGroup(child, 'SIGKILL') // leftovers of the group (socat's forks)
}

async function cleanup() {
  await Promise.all([...children].map((c) => stop(c, 1500)))
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true })
  tmp = ''
}

process.on('exit', () => {
  for (const c of children) killGroup(c, 'SIGKILL')
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true })
})
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, async () => {
    if (aborting) return
    aborting = true
    console.error(`\nbench: ${sig}, stopping everything it started`)
    await cleanup()
    process.exit(130)
  })
}

function capture(cmd, args) {
  try {
    return execFileSync(cmd, args, { cwd: ROOT, encoding: 'utf8', timeout: 15000, stdio: ['ignore', 'pipe', 'pipe'] }).trim()
  } catch (err) {
    return `${err.stdout ?? ''}${err.stderr ?? ''}`.trim() || 'n/a'
  }
}

// ---------------------------------------------------------------------------------------------
// Ports, sockets, /proc

const handedOut = new Set()
/** Port → placeholder, so the commands in BENCHMARKS.md read the same from run to run. */
const portNames = new Map()

/** A port free a moment ago on 127.0.0.1 for both TCP and UDP, not handed out before in this run. */
async function freePort(name) {
  const port = await sharedFreePort({ avoid: handedOut })
  handedOut.add(port)
  if (name) portNames.set(port, name)
  return port
}

/** True when something has bound UDP 127.0.0.1:port (read from /proc, so nothing is sent to it). */
function udpBound(port) {
  const want = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`
  try {
    return fs.readFileSync('/proc/net/udp', 'utf8').split('\n').some((l) => l.trim().split(/\s+/)[1] === want)
  } catch {
    return false
  }
}

/** Sends A queries to 127.0.0.1:port until one is answered (true) or `ms` pass (false). */
async function dnsAnswers(port, ms, gaveUp = () => false) {
  const sock = dgram.createSocket('udp4')
  await new Promise((r) => sock.bind(0, '127.0.0.1', r))
  let answered = false
  sock.on('message', (msg) => {
    if (msg.length > 7 && msg[0] === 0x4a && (msg[6] << 8 | msg[7]) > 0) answered = true
  })
  sock.on('error', () => {})
  const deadline = Date.now() + ms
  try {
    while (!answered && Date.now() < deadline && !gaveUp() && !aborting) {
      sock.send(dnsQuery(0x4a00 + Math.floor(Math.random() * 255), 'host.example'), port, '127.0.0.1')
      for (let i = 0; i < 10 && !answered; i++) await sleep(20)
    }
  } finally {
    sock.close()
  }
  return answered
}

const CLK_TCK = Number(capture('getconf', ['CLK_TCK'])) || 100

/** Busy CPU time of the whole machine so far (all cores), in seconds. */
function machineBusySeconds() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal (guest time is already in user)
  return (f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] ?? 0)) / CLK_TCK
}

/** CPU time of this process plus its reaped children (dnsperf, once it has exited), in seconds. */
function selfAndReapedSeconds() {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLK_TCK
}

/** CPU time (user + system) of a process so far, in seconds; NaN when it is gone. */
function cpuSeconds(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK
  } catch {
    return Number.NaN
  }
}

async function waitForText(file, pattern, ms, gaveUp = () => false) {
  const deadline = Date.now() + ms
  while (Date.now() < deadline && !aborting && !gaveUp()) {
    if (fs.existsSync(file) && pattern.test(fs.readFileSync(file, 'utf8'))) return true
    await sleep(50)
  }
  return false
}

function tail(file, lines = 8) {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n')
  } catch {
    return ''
  }
}

// ---------------------------------------------------------------------------------------------
// dnsperf

let queryFile = ''
let runIndex = 0
const commandsSeen = new Map()

function shown(text) {
  let out = text.replaceAll(ROOT + '/', '').replaceAll(tmp + '/', '$TMP/')
  for (const [port, name] of portNames) out = out.replace(new RegExp(`(?<=[:=\\s])${port}(?=\\D|$)`, 'g'), name)
  return out
}

function remember(kind, cmd, args) {
  if (!commandsSeen.has(kind)) commandsSeen.set(kind, shown([cmd, ...args].map((a) => (/[\s"'#]/.test(a) ? `'${a}'` : a)).join(' ')))
}

/**
 * One dnsperf run against 127.0.0.1:port with `q` outstanding queries for `seconds`. Latency
 * percentiles come from dnsperf's verbose per-query lines (`> NOERROR name A 0.000123`).
 * `watch` maps names to pids whose CPU use over the run is reported (percent of one core).
 */
async function dnsperf(port, q, seconds, { watch = {}, verbose = true, kind = 'dnsperf' } = {}) {
  const out = path.join(tmp, `dnsperf-${++runIndex}.txt`)
  const args = ['-s', '127.0.0.1', '-p', String(port), '-d', queryFile, '-c', '1', '-q', String(q), '-l', String(seconds), '-t', String(DNSPERF_TIMEOUT_S)]
  if (verbose) args.push('-v')
  remember(`${kind} -q ${q}`, 'dnsperf', args)
  const before = Object.fromEntries(Object.entries(watch).map(([k, pid]) => [k, cpuSeconds(pid)]))
  const busyBefore = machineBusySeconds()
  const selfBefore = selfAndReapedSeconds()
  const t0 = performance.now()
  const child = start('dnsperf', args, { stdout: out })
  const { code, error } = await child.exited
  const wall = (performance.now() - t0) / 1000
  // Percent of one core over the run: each watched process, dnsperf (with this script, which
  // idles meanwhile), and everything else on the machine (other users' work: the noise).
  const used = Object.fromEntries(Object.entries(watch).map(([k, pid]) => [k, cpuSeconds(pid) - before[k]]))
  used.dnsperf = selfAndReapedSeconds() - selfBefore
  const ours = Object.values(used).filter(Number.isFinite).reduce((a, b) => a + b, 0)
  used.other = Math.max(0, machineBusySeconds() - busyBefore - ours)
  const cpu = Object.fromEntries(Object.entries(used).map(([k, v]) => [k, round((v / wall) * 100, 0)]))
  const relay = Object.keys(watch).filter((k) => k !== 'dnsmasq').reduce((acc, k) => acc + used[k], 0)
  if (aborting) throw new Error('aborted')
  if (error || code !== 0) throw new Error(`dnsperf failed (${error?.message ?? `exit ${code}`}): ${tail(out)}`)
  const text = fs.readFileSync(out, 'utf8')
  fs.rmSync(out, { force: true })
  const parsed = parseDnsperf(text)
  // CPU the relay processes (near + far, or socat) spent per answered query.
  const relayUsPerQuery = Object.keys(watch).some((k) => k !== 'dnsmasq') && parsed.completed > 0 ? round((relay / parsed.completed) * 1e6, 1) : null
  return { ...parsed, q, seconds, cpu, relayUsPerQuery }
}

function parseDnsperf(text) {
  const num = (re) => {
    const m = text.match(re)
    return m ? Number(m[1]) : Number.NaN
  }
  const latencies = []
  let timedOut = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith('> ')) continue
    const parts = line.split(' ')
    if (parts[1] === 'T') timedOut++
    else if (parts[1] !== 'I') latencies.push(Number(parts[parts.length - 1]))
  }
  const sorted = Float64Array.from(latencies).sort()
  const pct = (p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] * 1000 : Number.NaN)
  const rcodes = text.match(/Response codes:\s+(.*)/)?.[1]?.trim() ?? ''
  return {
    sent: num(/Queries sent:\s+(\d+)/),
    completed: num(/Queries completed:\s+(\d+)/),
    lost: num(/Queries lost:\s+(\d+)/),
    lostPct: num(/Queries lost:\s+\d+ \(([\d.]+)%\)/),
    qps: num(/Queries per second:\s+([\d.]+)/),
    avgMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
    minMs: num(/Average Latency \(s\):.*min ([\d.]+)/) * 1000,
    maxMs: num(/Average Latency \(s\):.*max ([\d.]+)/) * 1000,
    stddevMs: num(/Latency StdDev \(s\):\s+([\d.]+)/) * 1000,
    medianMs: pct(0.5),
    p99Ms: pct(0.99),
    samples: sorted.length,
    timedOut,
    rcodes,
  }
}

function round(n, digits = 3) {
  if (!Number.isFinite(n)) return null
  const f = 10 ** digits
  return Math.round(n * f) / f
}

// ---------------------------------------------------------------------------------------------
// The paths under test

/** dnsmasq as the tests start it (test/helpers/dnsmasq.mjs: on another port if its port was taken), logging to a file. */
async function startDnsmasq() {
  const log = path.join(tmp, 'dnsmasq.log')
  const { port, process: dns } = await startSharedDnsmasq({
    start(cmd) {
      const child = start(cmd[0], cmd.slice(1), { stdout: log })
      return {
        child,
        async waitFor(pattern, ms) {
          if (!(await waitForText(log, pattern, ms, () => child.exitCode !== null))) throw new Error(`dnsmasq did not start: ${tail(log)}`)
        },
        stop: () => stop(child),
      }
    },
  })
  handedOut.add(port)
  portNames.set(port, '$DNS')
  remember('dnsmasq', 'dnsmasq', dnsmasqArgs(port))
  if (!(await dnsAnswers(port, 5000))) throw new Error(`dnsmasq on 127.0.0.1:${port} does not answer: ${tail(log)}`)
  return { child: dns.child, port }
}

/** Closed-loop latency (bench/udp-ping.mjs): one query outstanding, the next right after the reply. */
async function closedLoop(port, seconds, kind) {
  const args = ['bench/udp-ping.mjs', String(port), String(seconds)]
  remember(`${kind} loop`, 'node', args)
  const out = path.join(tmp, `loop-${++runIndex}.json`)
  const child = start(process.execPath, args, { stdout: out })
  const { code } = await child.exited
  const text = fs.existsSync(out) ? fs.readFileSync(out, 'utf8').trim() : ''
  if (code !== 0 || !text) throw new Error(`udp-ping on port ${port} failed (exit ${code}): ${text}`)
  return JSON.parse(text.split('\n').at(-1))
}

/** Measures `port` at both loads; `fresh()` may start something new for each dnsperf run. */
async function measurePair(opts, port, { watch, kind, fresh } = {}) {
  const run = async (q, seconds) => {
    const f = fresh ? await fresh() : undefined
    try {
      return await dnsperf(f?.port ?? port, q, seconds, { watch: f?.watch ?? watch, kind })
    } finally {
      if (f) await stop(f.child)
    }
  }
  // Low load first: a -q 100 run can leave state behind (with --codec uhppoted, thousands of
  // per-request flows and their sockets for --udp-timeout + 1 s) that a -q 1 run right after would
  // measure instead.
  const low = await run(LOW_Q, opts.lowSeconds)
  const high = await run(HIGH_Q, opts.seconds)
  const f = fresh ? await fresh() : undefined
  try {
    return { high, low, loop: await closedLoop(f?.port ?? port, opts.loopSeconds, kind) }
  } finally {
    if (f) await stop(f.child)
  }
}

async function measureDirect(opts, dns) {
  return { path: 'direct', ...(await measurePair(opts, dns.port, { watch: { dnsmasq: dns.child.pid }, kind: 'direct' })) }
}

/**
 * socat as the issue gives it, without `fork`: it relays between the first peer it hears from
 * and dnsmasq and ignores everyone else, so each dnsperf run (a new source port) needs a fresh
 * socat. dnsperf -c 1 is one client, so this is exactly one relaying process per run.
 */
async function freshSocat(dns) {
  const port = await freePort('$SOCAT')
  const args = [`UDP-LISTEN:${port},reuseaddr,bind=127.0.0.1`, `UDP:127.0.0.1:${dns.port}`]
  remember('socat', 'socat', args)
  const child = start('socat', args, { stdout: path.join(tmp, 'socat.log') })
  const deadline = Date.now() + 5000
  while (!udpBound(port)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`socat did not bind 127.0.0.1:${port}: ${tail(path.join(tmp, 'socat.log'))}`)
    await sleep(20)
  }
  return { child, port, watch: { socat: child.pid, dnsmasq: dns.child.pid } }
}

async function measureSocat(opts, dns) {
  return { path: 'socat', ...(await measurePair(opts, 0, { fresh: () => freshSocat(dns), kind: 'socat' })) }
}

/** One socat -q 100 run, for a reference taken right next to a target measurement. */
async function socatHigh(opts, dns) {
  const s = await freshSocat(dns)
  try {
    return await dnsperf(s.port, HIGH_Q, opts.seconds, { watch: s.watch, kind: 'socat' })
  } finally {
    await stop(s.child)
  }
}

/**
 * One JavaScript hop (bench/udp-hop.ts): socat's single hop written with edgerelay's UDP adapter
 * on `runtime`, no tunnel and no codec. Not a target; it shows the floor one runtime process
 * costs, next to socat's, and the tunnel makes two such hops plus a TCP connection.
 */
async function measureHop(opts, dns, runtime) {
  const port = await freePort('$HOP')
  const [cmd, full] = scriptCommand(runtime, 'bench/udp-hop.ts', [String(port), String(dns.port)])
  if (!commandsSeen.has(`hop ${runtime}`)) commandsSeen.set(`hop ${runtime}`, shown(displayCommand(runtime, cmd, full)))
  const log = path.join(tmp, `${runtime}-hop.log`)
  const child = start(cmd, full, { stdout: log })
  const result = { path: 'hop', runtime, codec: '-' }
  try {
    if (!(await dnsAnswers(port, 30000, () => child.exitCode !== null))) throw new Error(`no answer through the hop within 30 s: ${tail(log)}`)
    if (opts.warmup > 0) await dnsperf(port, HIGH_Q, opts.warmup, { verbose: false, kind: 'warm-up' })
    const watch = { hop: child.pid }
    result.low = await dnsperf(port, LOW_Q, opts.lowSeconds, { watch, kind: 'hop' })
    result.high = await dnsperf(port, HIGH_Q, opts.seconds, { watch, kind: 'hop' })
    result.loop = await closedLoop(port, opts.loopSeconds, 'hop')
  } catch (err) {
    if (aborting) throw err
    result.error = String(err.message ?? err)
  } finally {
    await stop(child)
  }
  return result
}

function halfCommand(runtime, opts, args) {
  switch (runtime) {
    case 'node': {
      const prof = opts.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${PROFILES}`] : []
      return [process.execPath, [...prof, 'bin/edgerelay.mjs', ...args]]
    }
    case 'bun': return [BUN, ['--conditions=edgerelay-source', 'src/cli/main.ts', ...args]]
    case 'deno': return [DENO, ['run', ...DENO_FLAGS, 'src/cli/main.ts', ...args]]
  }
  throw new Error(`unknown runtime ${runtime}`)
}

function displayCommand(runtime, cmd, args) {
  const shown = runtime === 'node' ? ['node', ...args] : [path.relative(ROOT, cmd), ...args]
  return shown.join(' ')
}

/** Far half (tcp/server → udp/broadcast to dnsmasq) and near half (udp/listen → tcp/client). */
async function measureTunnel(opts, dns, runtime, codec) {
  const tunnelPort = await freePort('$TUNNEL')
  const nearPort = await freePort('$NEAR')
  const common = ['--codec', codec, '--log-level', 'warn']
  const farArgs = [...common, '--in', `tcp/server:127.0.0.1:${tunnelPort}`, '--out', `udp/broadcast:127.0.0.1:${dns.port}`]
  const nearArgs = [...common, '--in', `udp/listen:127.0.0.1:${nearPort}`, '--out', `tcp/client:127.0.0.1:${tunnelPort}`]
  const [farCmd, farFull] = halfCommand(runtime, opts, farArgs)
  const [nearCmd, nearFull] = halfCommand(runtime, opts, nearArgs)
  const farLog = path.join(tmp, `${runtime}-${codec}-far.log`)
  const nearLog = path.join(tmp, `${runtime}-${codec}-near.log`)
  if (!commandsSeen.has(`far ${runtime}`)) {
    commandsSeen.set(`far ${runtime}`, shown(displayCommand(runtime, farCmd, farFull)))
    commandsSeen.set(`near ${runtime}`, shown(displayCommand(runtime, nearCmd, nearFull)))
  }
  const result = { path: 'tcp', runtime, codec }
  const far = start(farCmd, farFull, { stdout: farLog })
  const near = start(nearCmd, nearFull, { stdout: nearLog })
  result.pids = { near: near.pid, far: far.pid }
  try {
    const t0 = performance.now()
    const died = () => far.exitCode !== null || near.exitCode !== null
    if (!(await dnsAnswers(nearPort, 30000, died))) {
      throw new Error(`no answer through the tunnel within 30 s\nfar: ${tail(farLog)}\nnear: ${tail(nearLog)}`)
    }
    result.readyMs = Math.round(performance.now() - t0)
    if (opts.warmup > 0) await dnsperf(nearPort, HIGH_Q, opts.warmup, { verbose: false, kind: 'warm-up' })
    const watch = { near: near.pid, far: far.pid }
    result.low = await dnsperf(nearPort, LOW_Q, opts.lowSeconds, { watch, kind: 'tcp' })
    if (codec !== 'protobuf') {
      result.high = await dnsperf(nearPort, HIGH_Q, opts.seconds, { watch, kind: 'tcp' })
    } else {
      // The targets compare tcp+protobuf with socat: measure socat once more right before it, so
      // the comparison does not rest only on references taken minutes apart. When other work on
      // the machine took more than half a core during either run, the pair is measured once more
      // and the quieter pair counts (both are kept in latest.json).
      result.attempts = []
      for (let attempt = 0; attempt < 2; attempt++) {
        const adjacentSocat = await socatHigh(opts, dns)
        const high = await dnsperf(nearPort, HIGH_Q, opts.seconds, { watch, kind: 'tcp' })
        const other = Math.max(adjacentSocat.cpu.other ?? 0, high.cpu.other ?? 0)
        result.attempts.push({ socatQps: round(adjacentSocat.qps, 0), qps: round(high.qps, 0), lost: high.lost, otherCpu: other })
        if (!result.high || other < result.otherCpu) Object.assign(result, { adjacentSocat, high, otherCpu: other })
        if (other < NOISY_CPU) break
      }
    }
    result.loop = await closedLoop(nearPort, opts.loopSeconds, 'tcp')
  } catch (err) {
    if (aborting) throw err
    result.error = String(err.message ?? err)
  } finally {
    await Promise.all([stop(near), stop(far)])
  }
  result.warnings = warningsOf({ far: farLog, near: nearLog })
  return result
}

/** WARN/ERROR lines the halves logged: a count and the first few, per half. */
function warningsOf(logs) {
  const out = {}
  for (const [half, file] of Object.entries(logs)) {
    const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n') : []
    const bad = lines.filter((l) => / (WARN|ERROR) /.test(l) && !/connection to .* lost|cannot connect: .*ECONNREFUSED/.test(l))
    if (bad.length) out[half] = { count: bad.length, first: [...new Set(bad.map((l) => l.replace(/^\S+ /, '').replace(/flow \d+/, 'flow N').replace(/:\d{4,5}\b/g, ':P')))].slice(0, 3) }
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Codec micro-benchmark (bench/codecs.ts, owned elsewhere: we only run it)

async function runCodecs(opts) {
  const out = []
  for (const runtime of opts.runtimes) {
    const [cmd, args] = scriptCommand(runtime, 'bench/codecs.ts', ['--json', '--ms', String(opts.codecMs)])
    commandsSeen.set(`codecs ${runtime}`, displayCommand(runtime, cmd, args))
    const stdout = path.join(tmp, `codecs-${runtime}.json`)
    const stderr = path.join(tmp, `codecs-${runtime}.err`)
    process.stdout.write(`  codecs on ${runtime} ... `)
    const busyBefore = machineBusySeconds()
    const selfBefore = selfAndReapedSeconds()
    const t0 = performance.now()
    const { code, error } = await start(cmd, args, { stdout, stderr }).exited
    const wall = (performance.now() - t0) / 1000
    const own = selfAndReapedSeconds() - selfBefore
    const otherCpu = round((Math.max(0, machineBusySeconds() - busyBefore - own) / wall) * 100, 0)
    if (aborting) throw new Error('aborted')
    try {
      if (error || code !== 0) throw new Error(error?.message ?? `exit ${code}: ${tail(stderr)}`)
      const text = fs.readFileSync(stdout, 'utf8')
      out.push({ ...JSON.parse(text.slice(text.indexOf('{'), text.lastIndexOf('}') + 1)), otherCpu })
      console.log(`done (other work on the machine: ${otherCpu} % of a core)`)
    } catch (err) {
      console.log(`failed: ${err.message}`)
      out.push({ runtime, error: String(err.message) })
    }
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Analysis: references, ratios, targets

const median = (xs) => {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b)
  if (!v.length) return Number.NaN
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2
}

const mean = (xs) => {
  const v = xs.filter(Number.isFinite)
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : Number.NaN
}

/** direct or socat over its rounds (start and end of the run): means, lost queries summed. */
function mergeRounds(rounds) {
  const merged = { path: rounds[0].path, rounds: rounds.length }
  for (const load of ['high', 'low', 'loop']) {
    const rs = rounds.map((r) => r[load]).filter(Boolean)
    if (!rs.length) continue
    const m = {}
    for (const key of Object.keys(rs[0])) {
      if (typeof rs[0][key] === 'number') m[key] = ['lost', 'sent', 'completed', 'samples', 'timedOut'].includes(key) ? rs.reduce((a, r) => a + r[key], 0) : mean(rs.map((r) => r[key]))
    }
    m.cpu = Object.fromEntries(Object.keys(rs[0].cpu ?? {}).map((k) => [k, Math.round(mean(rs.map((r) => r.cpu?.[k])))]))
    merged[load] = m
  }
  return merged
}

function analyse(run) {
  const directR = mergeRounds(run.references.map((r) => r.direct))
  const socatR = mergeRounds(run.references.map((r) => r.socat))
  const direct = { highQps: directR.high.qps, lowMedianMs: directR.low.medianMs }
  const socat = { highQps: socatR.high.qps, lowMedianMs: socatR.low.medianMs }
  const socatAdded = socat.lowMedianMs - direct.lowMedianMs
  direct.loopMedianMs = directR.loop?.medianMs
  socat.loopMedianMs = socatR.loop?.medianMs
  const socatLoopAdded = socat.loopMedianMs - direct.loopMedianMs
  const rows = []
  const byName = (t) => RUNTIMES.indexOf(t.runtime) * 10 + CODECS.indexOf(t.codec)
  for (const r of [directR, socatR, ...(run.hops ?? []), ...[...run.tunnels].sort((x, y) => byName(x) - byName(y))]) {
    const added = r.low ? r.low.medianMs - direct.lowMedianMs : Number.NaN
    const loopAdded = r.loop ? r.loop.medianMs - direct.loopMedianMs : Number.NaN
    rows.push({
      path: r.path, runtime: r.runtime ?? '-', codec: r.codec ?? '-', error: r.error,
      high: r.high, low: r.low,
      qps: r.high?.qps,
      qpsXDirect: r.high?.qps / direct.highQps,
      qpsXSocat: r.high?.qps / socat.highQps,
      lowMedianMs: r.low?.medianMs,
      lowP99Ms: r.low?.p99Ms,
      addedMs: added,
      addedXSocat: added / socatAdded,
      loop: r.loop,
      loopAddedMs: loopAdded,
      loopAddedXSocat: loopAdded / socatLoopAdded,
      cpu: r.high?.cpu ?? {},
    })
  }

  const targets = []
  for (const runtime of RUNTIMES) {
    const r = run.tunnels.find((t) => t.runtime === runtime && t.codec === 'protobuf')
    if (!r) continue
    const need = runtime === 'deno' ? 0.75 : 1
    // socat's reference: the socat run right before this one, under the same conditions (the pair
    // is re-measured when other work disturbed it); the start and end runs are shown for scale.
    const refs = [
      ...(r.adjacentSocat ? [{ when: 'right before', qps: r.adjacentSocat.qps }] : []),
      ...run.references.map((x) => ({ when: x.when, qps: x.socat.high.qps })),
    ]
    const ref = r.adjacentSocat ? r.adjacentSocat.qps : median(refs.map((x) => x.qps))
    const ratio = r.high ? r.high.qps / ref : Number.NaN
    const lost = r.high?.lost ?? Number.NaN
    const pass = ratio >= need && lost === 0
    targets.push({
      id: 'i', runtime, codec: 'protobuf', pass, ratio, referenceQps: ref,
      text: `(i)  tcp+protobuf -q ${HIGH_Q} on ${runtime}: ${fmtInt(r.high?.qps)} q/s = ${fmtX(ratio)} socat (need ≥ ${need.toFixed(2)}×), ${Number.isFinite(lost) ? lost : '?'} lost (need 0); socat ${refs.map((x) => `${x.when} ${fmtInt(x.qps)}`).join(', ')}${r.error ? ` [${r.error.split('\n')[0]}]` : ''}`,
    })
  }
  for (const codec of CODECS) {
    for (const runtime of RUNTIMES) {
      const r = rows.find((x) => x.runtime === runtime && x.codec === codec)
      if (!r) continue
      targets.push({
        id: 'ii', runtime, codec, pass: r.addedXSocat <= 2,
        text: `(ii) tcp+${codec} dnsperf -q ${LOW_Q} on ${runtime}: median added latency ${fmtUs(r.addedMs)} = ${fmtX(r.addedXSocat)} socat's ${fmtUs(socatAdded)} (need ≤ 2.00×)`,
      })
      if (r.loop) {
        targets.push({
          id: 'ii-loop', runtime, codec, pass: r.loopAddedXSocat <= 2,
          text: `(ii) tcp+${codec} closed loop on ${runtime}: median added latency ${fmtUs(r.loopAddedMs)} = ${fmtX(r.loopAddedXSocat)} socat's ${fmtUs(socatLoopAdded)} (need ≤ 2.00×)`,
        })
      }
    }
  }
  const nodeCodecs = run.codecs.find((c) => c.runtime?.startsWith('node') && c.results)
  const pb = nodeCodecs?.results.find((x) => x.codec === 'protobuf' && x.payload === 64)
  if (pb) {
    targets.push({
      id: 'iii', runtime: 'node', codec: 'protobuf', pass: pb.encode >= 1.5e6,
      text: `(iii) protobuf 64-byte encode+decode on node: ${(pb.encode / 1e6).toFixed(2)} M/s with a fresh buffer per frame, ${(pb.encodeInto / 1e6).toFixed(2)} M/s with encodeInto (need ≥ 1.50 M/s)`,
    })
  }
  return { direct, socat, socatAddedMs: socatAdded, socatLoopAddedMs: socatLoopAdded, rows, targets }
}

// ---------------------------------------------------------------------------------------------
// Output: console tables, markdown, SVG, BENCHMARKS.md

const fmtInt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-')
const fmtX = (n) => (Number.isFinite(n) ? `${n.toFixed(2)}×` : '-')
const fmtMs = (n) => (Number.isFinite(n) ? n.toFixed(3) : '-')
const fmtUs = (n) => (Number.isFinite(n) ? `${Math.round(n * 1000)} µs` : '-')
const fmtPct = (n) => (Number.isFinite(n) ? n.toFixed(2) : '-')
const fmtUsq = (n) => (Number.isFinite(n) ? n.toFixed(1) : '-')
const fmtCpu = (cpu) => Object.entries(cpu ?? {}).map(([k, v]) => `${k} ${v ?? '-'}`).join(', ') || '-'

function tables(a) {
  const high = {
    head: ['path', 'runtime', 'codec', 'queries/s', '× direct', '× socat', 'lost', 'lost %', 'median ms', 'p99 ms', 'relay CPU µs/query', 'CPU % of a core'],
    rows: a.rows.map((r) => r.error && !r.high
      ? [r.path, r.runtime, r.codec, 'error', '', '', '', '', '', '', '', r.error.split('\n')[0].slice(0, 60)]
      : [r.path, r.runtime, r.codec, fmtInt(r.qps), fmtX(r.qpsXDirect), fmtX(r.qpsXSocat), fmtInt(r.high?.lost), fmtPct(r.high?.lostPct), fmtMs(r.high?.medianMs), fmtMs(r.high?.p99Ms), fmtUsq(r.high?.relayUsPerQuery), fmtCpu(r.cpu)]),
  }
  const low = {
    head: ['path', 'runtime', 'codec', 'median ms', 'p99 ms', 'added median', 'added × socat', 'median × direct', 'samples', 'lost', 'relay CPU µs/query'],
    rows: a.rows.filter((r) => r.low || !r.error).map((r) => [
      r.path, r.runtime, r.codec, fmtMs(r.lowMedianMs), fmtMs(r.lowP99Ms),
      r.path === 'direct' ? '-' : fmtUs(r.addedMs), r.path === 'direct' ? '-' : fmtX(r.addedXSocat),
      fmtX(r.lowMedianMs / a.direct.lowMedianMs), fmtInt(r.low?.samples), fmtInt(r.low?.lost), fmtUsq(r.low?.relayUsPerQuery),
    ]),
  }
  const loop = {
    head: ['path', 'runtime', 'codec', 'median ms', 'p99 ms', 'added median', 'added × socat', 'median × direct', 'samples', 'lost'],
    rows: a.rows.filter((r) => r.loop).map((r) => [
      r.path, r.runtime, r.codec, fmtMs(r.loop.medianMs), fmtMs(r.loop.p99Ms),
      r.path === 'direct' ? '-' : fmtUs(r.loopAddedMs), r.path === 'direct' ? '-' : fmtX(r.loopAddedXSocat),
      fmtX(r.loop.medianMs / a.direct.loopMedianMs), fmtInt(r.loop.samples), fmtInt(r.loop.lost),
    ]),
  }
  return { high, low, loop }
}

function textTable({ head, rows }) {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i] ?? '').length)))
  const left = new Set([0, 1, 2, ...(head.at(-1).startsWith('CPU %') ? [head.length - 1] : [])])
  const line = (cells) => cells.map((c, i) => (left.has(i) ? String(c ?? '').padEnd(widths[i]) : String(c ?? '').padStart(widths[i]))).join('  ').trimEnd()
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

function mdTable({ head, rows }) {
  const esc = (c) => String(c ?? '').replaceAll('|', '\\|')
  return [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i < 3 ? '---' : '---:')).join('|')}|`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n')
}

function codecTable(codecs) {
  const ok = codecs.filter((c) => c.results)
  if (!ok.length) return null
  const head = ['codec', 'payload', 'bytes', ...ok.flatMap((c) => [`${c.runtime.split(' ')[0]} encode`, `${c.runtime.split(' ')[0]} encodeInto`])]
  const keys = ok[0].results.map((r) => [r.codec, r.payload])
  const m = (n) => (Number.isFinite(n) ? `${(n / 1e6).toFixed(2)} M` : '-')
  const rows = keys.map(([codec, payload]) => {
    const cells = ok.flatMap((c) => {
      const r = c.results.find((x) => x.codec === codec && x.payload === payload)
      return [m(r?.encode), m(r?.encodeInto)]
    })
    const bytes = ok[0].results.find((x) => x.codec === codec && x.payload === payload).bytes
    return [codec, payload, bytes, ...cells]
  })
  return { head, rows }
}

function svgChart(a, meta) {
  const bars = a.rows.filter((r) => Number.isFinite(r.qps)).map((r) => ({
    label: r.path === 'tcp' ? `${r.runtime} · ${r.codec}` : r.path === 'hop' ? `${r.runtime} hop` : r.path,
    value: r.qps,
    color: COLORS[r.path === 'tcp' || r.path === 'hop' ? r.runtime : r.path],
    ratio: r.qpsXSocat,
  }))
  const { W, H, left, rowH, top, bottom, scale } = chartFrame(bars.length, { left: 150, rowH: 24, max: Math.max(...bars.map((b) => b.value)) })
  const parts = chartHead(W, H, `UDP request/reply: dnsperf queries/s with ${HIGH_Q} outstanding (tcp tunnel)`, meta)
  parts.push(...referenceLine(left + scale(a.socat.highQps), top, bottom, 'socat'))
  bars.forEach((b, i) => {
    const y = top + i * rowH
    parts.push(`<text x="${left - 8}" y="${y + 15}" text-anchor="end">${esc(b.label)}</text>`)
    parts.push(`<rect x="${left}" y="${y + 3}" width="${scale(b.value).toFixed(1)}" height="${rowH - 7}" fill="${b.color}" rx="2"/>`)
    parts.push(`<text x="${(left + scale(b.value) + 6).toFixed(1)}" y="${y + 15}" fill="#111">${esc(fmtInt(b.value))}  (${esc(fmtX(b.ratio))} socat)</text>`)
  })
  parts.push(...chartFoot(H, left))
  return parts.join('\n') + '\n'
}

function machine() {
  const cpuModel = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) ?? [])[1] ?? os.cpus()[0]?.model ?? 'unknown'
  return {
    cpu: cpuModel.trim(),
    nproc: Number(capture('nproc', [])) || os.availableParallelism?.() || os.cpus().length,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: capture('uname', ['-srm']),
    os: (fs.existsSync('/etc/os-release') ? fs.readFileSync('/etc/os-release', 'utf8').match(/PRETTY_NAME="?([^"\n]*)/)?.[1] : '') || os.type(),
    node: process.version,
    bun: capture(BUN, ['--version']),
    deno: capture(DENO, ['--version']).split('\n')[0].replace(/\s*\(.*\)$/, ''),
    dnsperf: capture('dnsperf', ['-h']).match(/Version ([\d.]+)/)?.[1] ?? 'n/a',
    dnsmasq: capture('dnsmasq', ['--version']).match(/Dnsmasq version (\S+)/)?.[1] ?? 'n/a',
    socat: capture('socat', ['-V']).match(/socat version (\S+)/)?.[1] ?? 'n/a',
  }
}

function notes(run, a) {
  const out = []
  for (const t of run.tunnels) {
    for (const [half, w] of Object.entries(t.warnings ?? {})) {
      out.push(`${t.runtime}/${t.codec}: the ${half} half logged ${w.count} warning${w.count === 1 ? '' : 's'}, e.g. \`${w.first[0]}\``)
    }
    if (t.error) out.push(`${t.runtime}/${t.codec}: not measured: ${t.error.split('\n')[0]}`)
  }
  const busy = a.rows.filter((r) => r.path === 'tcp' && ((r.cpu?.near ?? 0) >= 85 || (r.cpu?.far ?? 0) >= 85))
  if (busy.length) out.push(`Halves near a full core (≥ 85 %) at -q ${HIGH_Q}: ${busy.map((r) => `${r.runtime}/${r.codec} (near ${r.cpu.near} %, far ${r.cpu.far} %)`).join('; ')}.`)
  else out.push(`No half came near a full core at -q ${HIGH_Q} (highest: ${Math.max(...a.rows.filter((r) => r.path === 'tcp').flatMap((r) => [r.cpu?.near ?? 0, r.cpu?.far ?? 0]))} %): the halves were not CPU-bound; the ${run.machine.nproc} cores were shared with dnsperf, dnsmasq and other work.`)
  const socatRow = a.rows.find((r) => r.path === 'socat')
  for (const r of a.rows.filter((x) => x.path === 'tcp' && x.codec === 'protobuf' && x.low && x.high)) {
    out.push(`${r.runtime}/protobuf: the two halves spent ${fmtUsq(r.low.relayUsPerQuery)} µs of CPU per query at -q ${LOW_Q} and ${fmtUsq(r.high.relayUsPerQuery)} µs at -q ${HIGH_Q}; socat ${fmtUsq(socatRow?.low?.relayUsPerQuery)} and ${fmtUsq(socatRow?.high?.relayUsPerQuery)} µs.`)
  }
  for (const h of a.rows.filter((x) => x.path === 'hop' && x.low)) {
    const t = a.rows.find((x) => x.path === 'tcp' && x.runtime === h.runtime && x.codec === 'protobuf' && x.low)
    out.push(`One ${h.runtime} hop (no tunnel) added ${fmtUs(h.addedMs)} median at -q ${LOW_Q}, ${fmtX(h.addedXSocat)} socat's ${fmtUs(a.socatAddedMs)}${t ? `; the ${h.runtime} tunnel, two such hops and a TCP connection, added ${fmtUs(t.addedMs)}` : ''}.`)
  }
  for (const t of run.tunnels.filter((x) => x.attempts?.length > 1)) {
    out.push(`${t.runtime}/${t.codec} at -q ${HIGH_Q} was measured twice because other work took ≥ ${NOISY_CPU} % of a core: ${t.attempts.map((x) => `socat ${fmtInt(x.socatQps)} then tunnel ${fmtInt(x.qps)} q/s with other work at ${x.otherCpu} %`).join('; ')}; the quieter pair counts.`)
  }
  const noisyCodecs = run.codecs.filter((c) => (c.otherCpu ?? 0) >= 25)
  if (noisyCodecs.length) out.push(`The codec micro-benchmark ran while other work used ${noisyCodecs.map((c) => `${c.otherCpu} % of a core (${c.runtime})`).join(', ')}; its single-threaded figures suffer less than the relay's, but allocation-heavy ones (encode with a fresh buffer) lean on V8's garbage-collector threads.`)
  const noisy = a.rows.filter((r) => (r.cpu?.other ?? 0) >= 25)
  if (noisy.length) out.push(`Other work on the machine used ≥ 25 % of a core during the -q ${HIGH_Q} run of: ${noisy.map((r) => `${r.path === 'tcp' ? `${r.runtime}/${r.codec}` : r.path} (${r.cpu.other} %)`).join(', ')}.`)
  const [first, last] = [run.references[0], run.references.at(-1)]
  if (first !== last) {
    const drift = (x) => `${fmtInt(first[x].high.qps)} → ${fmtInt(last[x].high.qps)} q/s`
    out.push(`Reference drift between the start and the end of the run: direct ${drift('direct')}, socat ${drift('socat')} (ratios use the mean).`)
  }
  return out
}

function markdown(run, a) {
  const t = tables(a)
  const ct = codecTable(run.codecs)
  const m = run.machine
  const lines = []
  lines.push(`## UDP request/reply (dnsperf, ${HIGH_Q} queries outstanding, ${run.options.seconds} s each)`, '', mdTable(t.high), '')
  lines.push(`## Latency at low load (dnsperf, ${LOW_Q} query outstanding, ${run.options.lowSeconds} s each)`, '', mdTable(t.low), '')
  if (t.loop.rows.length) lines.push(`## Latency, closed loop (bench/udp-ping.mjs: ${LOW_Q} query outstanding, the next sent as soon as the reply arrives, ${run.options.loopSeconds} s each)`, '', mdTable(t.loop), '')
  lines.push('## Targets (issue 7 §2)', '', ...a.targets.map((x) => `- **${x.pass ? 'PASS' : 'FAIL'}** ${x.text}`), '')
  if (ct) lines.push(`## Codecs: encode+decode frames/s (bench/codecs.ts, best of 5 × ${run.options.codecMs} ms)`, '', mdTable(ct), '')
  const n = notes(run, a)
  if (n.length) lines.push('## Noticed during the run', '', ...n.map((x) => `- ${x}`), '')
  lines.push(`Run ${run.startedAt}, ${Math.round(run.durationS)} s; ${m.nproc} CPUs, ${m.kernel}; node ${m.node}, bun ${m.bun}, ${m.deno}.`, '')
  return lines.join('\n')
}

function benchmarksMd(run, a) {
  const m = run.machine
  const cmds = Object.fromEntries(commandsSeen)
  const c = (k) => cmds[k] ?? `# (${k}: not run)`
  return `# Benchmarks

Generated by \`npm run bench\` (bench/run.mjs) on ${run.startedAt}; the whole run took ${Math.round(run.durationS)} s.
Do not edit by hand: run the bench again. Raw numbers: [bench/results/latest.json](bench/results/latest.json).

![queries/s per transport and runtime](bench/results/qps.svg)

## Machine

| | |
|---|---|
| CPU | ${m.cpu}, \`nproc\` = ${m.nproc} |
| memory | ${m.memory} |
| kernel | ${m.kernel} (${m.os}) |
| runtimes | node ${m.node}, bun ${m.bun}, ${m.deno} |
| tools | dnsperf ${m.dnsperf}, dnsmasq ${m.dnsmasq}, socat ${m.socat} |
| load average | ${run.loadBefore.map((x) => x.toFixed(2)).join(' ')} before, ${run.loadAfter.map((x) => x.toFixed(2)).join(' ')} after |

A shared 2-core machine where other test suites may run at the same time: absolute numbers move
from run to run, so every figure is also given as a ratio to the direct path and to socat measured
in the same run (direct and socat are measured at the start and again at the end; ratios use the mean).

## How it measures

- **Workload.** dnsperf with one client socket (\`-c 1\`) sends A queries for ${Object.keys(RECORDS).length} names to a dnsmasq that
  answers them from \`--host-record\` (no upstream, no cache): ${run.options.lowSeconds} s with ${LOW_Q} query outstanding (latency at
  low load) and ${run.options.seconds} s with ${HIGH_Q} outstanding (throughput). A query without a reply within ${DNSPERF_TIMEOUT_S} s counts as lost.
- **Paths.** *direct*: dnsperf → dnsmasq. *socat*: dnsperf → socat → dnsmasq, the single-hop floor any relay pays.
  *tcp*: dnsperf → near half (\`udp/listen\` → \`tcp/client\`) → TCP on loopback → far half (\`tcp/server\` →
  \`udp/broadcast\`) → dnsmasq, each half its own process, for every codec on every runtime.
  *hop*: dnsperf → [bench/udp-hop.ts](bench/udp-hop.ts) → dnsmasq, socat's single hop written with edgerelay's
  UDP adapter on each runtime (no tunnel, no codec): not a target, it shows what one process of that runtime
  costs where socat is one C process. The tunnel is two such processes plus a TCP connection.
- **socat without \`fork\`.** Issue 7 gives \`socat UDP-LISTEN:p,reuseaddr UDP:127.0.0.1:dns\`. Without \`fork\` socat
  relays between the first peer it hears from and dnsmasq, in one process, and ignores every other
  source address; with \`fork\` it forks a child per new client address, which then relays that client
  alone. dnsperf \`-c 1\` is a single client, so both are the same single-process hop once running, but
  \`fork\` adds a fork to the first packet and leaves children behind that outlive the client. The bench
  uses the issue's command without \`fork\` and starts a fresh socat for every dnsperf run (a new dnsperf
  has a new source port, which a used no-fork socat would ignore). A spot check while writing the bench
  gave the same throughput both ways (28.1k and 28.8k queries/s at -q ${HIGH_Q}, 4 s each). \`bind=127.0.0.1\` keeps
  socat's socket on loopback like everything else in the run.
- **Latency.** dnsperf prints only mean, min, max and standard deviation, so median and p99 are computed from its
  verbose output (\`-v\`: one line per answered query with its latency; it goes to a file, and in a check
  while writing the bench \`-v\` moved direct throughput by less than the run-to-run noise, 66.8k vs 68.0k
  queries/s). *Added latency* = median of the path minus median of direct, both at -q ${LOW_Q}.
- **dnsperf at -q ${LOW_Q} paces itself.** Its receiver thread wakes the sender *before* it counts the reply as
  completed; when the sender wins that race it sees the query still outstanding and sleeps until the
  receiver's next wake-up, at worst its 100 ms poll timeout. So at -q ${LOW_Q} dnsperf sends anywhere between a
  few dozen and a few thousand queries per second, differently from run to run, with idle gaps between
  queries (as a lightly used relay sees them). Each sample is still the time from send to reply, but the
  *samples* column varies and a p99 over a few hundred samples is rough; no queries/s are given at -q ${LOW_Q}.
- **Closed loop.** On this VM a process woken after a longer idle gap takes longer to answer (the vCPUs sleep
  deeper), so dnsperf's uneven gaps at -q ${LOW_Q} give every path a different load: its -q ${LOW_Q} ratios mix the
  relay's cost with the gaps it happened to get (compare the *samples* column). [bench/udp-ping.mjs](bench/udp-ping.mjs)
  sends the next query the moment a reply arrives, for ${run.options.loopSeconds} s on every path, so all paths see the same
  cadence. Target (ii) is printed for both; only the closed loop compares like with like. Its samples
  still move from run to run by a factor of two or more for the same pair of halves (a tunnel measured
  alone, right after a bench run, gave 0.15–0.18 ms where the run gave 0.38 ms), so read single cells with care.
- **Warm-up.** Each pair of halves is checked with a DNS query through the tunnel, then warmed with ${run.options.warmup} s of dnsperf
  at -q ${HIGH_Q} (JIT), which is not counted. direct and socat are C programs and get no warm-up.
- **CPU %.** User + system time over the dnsperf run, in percent of one core (from /proc): the relay processes
  (near, far, socat), dnsmasq, dnsperf (with this script, which idles meanwhile), and *other*: everything else
  on the machine, i.e. other people's work, the noise. 100 % means a process kept one core busy; all of them
  share the same ${run.machine.nproc} cores. On loopback the kernel's receive path runs in the sender's context, so
  system time includes delivering the datagrams and segments a process sends.
- **Order.** direct and socat (start); one hop per runtime (started, checked, warmed up, -q ${LOW_Q}, -q ${HIGH_Q}); then per codec, per runtime: start both halves, check, warm up, -q ${LOW_Q}, -q ${HIGH_Q}
  (low load first, so it does not inherit what a -q ${HIGH_Q} run leaves behind); direct and socat again (end); codecs.
- **Targets** (issue 7 §2). (i) compares tcp+protobuf with a socat run at -q ${HIGH_Q} made right before it, with the halves
  already warm; if other work took ≥ ${NOISY_CPU} % of a core during that socat + tunnel pair, the pair is measured once more
  and the quieter one counts (both are in latest.json). The table's *× socat* column uses the mean of the start and
  end socat runs for every row instead, so the two can differ. (ii) compares added medians at -q ${LOW_Q} with socat's
  (mean of start and end). (iii), the codec target, comes from the codec micro-benchmark.

${markdown(run, a)}
## Exact commands

\`$DNS\`, \`$SOCAT\`, \`$HOP\`, \`$TUNNEL\` and \`$NEAR\` are free 127.0.0.1 ports the run picks (a new one for every socat and every pair
of halves); \`$TMP\` is the run's temporary directory.

\`\`\`sh
${c('dnsmasq')}
printf '${Object.keys(RECORDS).map((n) => `${n} A`).join('\\n')}\\n' > $TMP/queries.txt
# direct
${c(`direct -q ${LOW_Q}`)}
${c(`direct -q ${HIGH_Q}`)}
# socat (a fresh one per dnsperf run)
${c('socat')}
${c(`socat -q ${LOW_Q}`)}
${c(`socat -q ${HIGH_Q}`)}
# one JavaScript hop per runtime (warmed up like the halves)
${run.options.runtimes.map((r) => c(`hop ${r}`)).join('\n')}
${c(`hop -q ${LOW_Q}`)}
${c(`hop -q ${HIGH_Q}`)}
# tcp tunnel, per runtime (shown for codec ${run.tunnels[0]?.codec ?? 'protobuf'}; --codec protobuf|avro|msgpack|uhppoted); far half, then near half
${run.options.runtimes.map((r) => `${c(`far ${r}`)}\n${c(`near ${r}`)}`).join('\n')}
${c(`warm-up -q ${HIGH_Q}`)}
${c(`tcp -q ${LOW_Q}`)}
${c(`tcp -q ${HIGH_Q}`)}
# codecs
${run.options.runtimes.map((r) => c(`codecs ${r}`)).join('\n')}
\`\`\`

Re-run: \`npm run bench\` (about ${(run.durationS / 60).toFixed(1)} min). Quicker: \`npm run bench -- --seconds 2 --low-seconds 2 --only node,protobuf --skip-codecs\`.
Where the Node halves spend their time: \`npm run bench -- --only node,protobuf --skip-codecs --cpu-prof\`.
`
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const opts = parseOptions(process.argv.slice(2))
  buildPackage()
  const startedAt = new Date()
  const t0 = performance.now()
  const loadBefore = os.loadavg()
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgerelay-bench-'))
  queryFile = path.join(tmp, 'queries.txt')
  fs.writeFileSync(queryFile, Object.keys(RECORDS).map((n) => `${n} A\n`).join(''))
  fs.mkdirSync(RESULTS, { recursive: true })
  if (opts.cpuProf) fs.rmSync(PROFILES, { recursive: true, force: true })

  // Codec-major order: the three protobuf tunnels (the targets) run next to each other and next to
  // the first direct/socat measurement.
  const combos = opts.codecs.flatMap((codec) => opts.runtimes.map((runtime) => ({ runtime, codec })))
  const perPair = opts.seconds + opts.lowSeconds + opts.loopSeconds + 0.3
  const estimate = 4 * perPair + opts.runtimes.length * (perPair + opts.warmup + 1) + combos.length * (perPair + opts.warmup + 1.5) + (opts.codecs.includes('protobuf') ? opts.runtimes.length * (opts.seconds + 0.5) : 0) /* + a retry per noisy target */ + (opts.skipCodecs ? 0 : opts.runtimes.length * (opts.codecMs * 0.13 + 1))
  console.log(`edgerelay bench: direct, socat, tcp × {${opts.codecs.join(', ')}} × {${opts.runtimes.join(', ')}}; -q ${HIGH_Q} for ${opts.seconds} s, -q ${LOW_Q} for ${opts.lowSeconds} s; about ${Math.round(estimate)} s`)

  const dns = await startDnsmasq()
  console.log(`  dnsmasq on 127.0.0.1:${dns.port}`)
  const references = []
  const measureRefs = async (when) => {
    process.stdout.write(`  direct and socat (${when}) ... `)
    const ref = { when, direct: await measureDirect(opts, dns), socat: await measureSocat(opts, dns) }
    references.push(ref)
    console.log(`direct ${fmtInt(ref.direct.high.qps)} q/s, socat ${fmtInt(ref.socat.high.qps)} q/s`)
  }
  await measureRefs('start')

  const hops = []
  for (const runtime of opts.runtimes) {
    process.stdout.write(`  hop ${runtime} ... `)
    const r = await measureHop(opts, dns, runtime)
    hops.push(r)
    console.log(r.error ? `error: ${r.error.split('\n')[0]}` : `${fmtInt(r.high.qps)} q/s, ${r.high.lost} lost, -q ${LOW_Q} median ${fmtMs(r.low.medianMs)} ms`)
  }

  const tunnels = []
  for (const { runtime, codec } of combos) {
    process.stdout.write(`  tcp ${runtime} ${codec} ... `)
    const r = await measureTunnel(opts, dns, runtime, codec)
    tunnels.push(r)
    console.log(r.error ? `error: ${r.error.split('\n')[0]}` : `${fmtInt(r.high.qps)} q/s, ${r.high.lost} lost, -q ${LOW_Q} median ${fmtMs(r.low.medianMs)} ms`)
  }
  await measureRefs('end')
  const codecs = opts.skipCodecs ? [] : await runCodecs(opts)
  await stop(dns.child)

  const run = {
    startedAt: startedAt.toISOString(),
    durationS: (performance.now() - t0) / 1000,
    options: { seconds: opts.seconds, lowSeconds: opts.lowSeconds, loopSeconds: opts.loopSeconds, warmup: opts.warmup, only: opts.only || null, codecMs: opts.skipCodecs ? null : opts.codecMs, runtimes: opts.runtimes, codecs: opts.codecs, highQ: HIGH_Q, lowQ: LOW_Q, dnsperfTimeoutS: DNSPERF_TIMEOUT_S },
    machine: machine(),
    loadBefore,
    loadAfter: os.loadavg(),
    references,
    hops,
    tunnels,
    codecs,
  }
  const a = analyse(run)
  run.commands = Object.fromEntries(commandsSeen)
  const t = tables(a)

  console.log(`\nUDP request/reply, dnsperf -c 1 -q ${HIGH_Q}, ${opts.seconds} s each (direct and socat: mean of start and end)\n`)
  console.log(textTable(t.high))
  console.log(`\nLatency at low load, dnsperf -c 1 -q ${LOW_Q}, ${opts.lowSeconds} s each; added = median − direct's median\n`)
  console.log(textTable(t.low))
  if (t.loop.rows.length) {
    console.log(`\nLatency, closed loop (bench/udp-ping.mjs: the next query as soon as the reply arrives), ${opts.loopSeconds} s each\n`)
    console.log(textTable(t.loop))
  }
  const ct = codecTable(codecs)
  if (ct) {
    console.log(`\nCodecs: encode+decode frames/s (best of 5 × ${opts.codecMs} ms)\n`)
    console.log(textTable(ct))
  }
  console.log('\nTargets (issue 7 §2)')
  for (const x of a.targets) console.log(`${x.pass ? 'PASS' : 'FAIL'} ${x.text}`)
  const n = notes(run, a)
  if (n.length) console.log(`\nNoticed:\n${n.map((x) => `- ${x}`).join('\n')}`)

  if (opts.cpuProf) {
    const dir = PROFILES
    // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile; thread 0 is the main thread (tsx's
    // loader hooks run in a worker thread of their own).
    const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f)) : []
    console.log(`\nCPU profiles of the Node halves' main threads (${dir}; whole process life, start-up included):`)
    for (const f of files) {
      const pid = Number(f.split('.')[3])
      const t = tunnels.find((x) => x.pids?.near === pid || x.pids?.far === pid)
      const who = t ? `${t.pids.near === pid ? 'near' : 'far'} half, ${t.runtime}/${t.codec}` : `pid ${pid}`
      console.log(`${who}: ${formatProfile(summariseProfile(path.join(dir, f)), 15)}\n`)
    }
  }

  run.durationS = (performance.now() - t0) / 1000
  const meta = `${run.machine.nproc} CPUs · ${run.machine.kernel} · node ${run.machine.node} · bun ${run.machine.bun} · ${run.machine.deno} · ${run.startedAt.slice(0, 16).replace('T', ' ')} UTC`
  fs.writeFileSync(path.join(RESULTS, 'latest.json'), JSON.stringify({ ...run, analysis: { direct: a.direct, socat: a.socat, socatAddedMs: a.socatAddedMs, targets: a.targets } }, (_k, v) => (typeof v === 'number' && !Number.isInteger(v) ? round(v, 4) : v), 2) + '\n')
  fs.writeFileSync(path.join(RESULTS, 'latest.md'), markdown(run, a))
  fs.writeFileSync(path.join(RESULTS, 'qps.svg'), svgChart(a, meta))
  const written = ['bench/results/latest.json', 'bench/results/latest.md', 'bench/results/qps.svg']
  if (opts.writeDocs && !opts.skipStreams) {
    // TCP streams (iperf3, fairness, 1,000 streams, time to first byte): bench/results/streams.md.
    const streams = spawn(process.execPath, [path.join(ROOT, 'bench', 'streams.mjs')], { cwd: ROOT, stdio: 'inherit' })
    await new Promise((resolve) => streams.on('exit', resolve))
  }
  if (opts.writeDocs) {
    // bench/scale.mjs (it needs 10,000 sockets) and bench/latency-floor.mjs (rounds of its own)
    // run separately; keep their last tables.
    const separate = ['scale.md', 'latency-floor.md', 'startup.md', 'streams.md', 'workers.md'].map((f) => path.join(RESULTS, f)).filter((f) => fs.existsSync(f))
    fs.writeFileSync(path.join(ROOT, 'BENCHMARKS.md'), benchmarksMd(run, a) + separate.map((f) => `\n${fs.readFileSync(f, 'utf8')}`).join(''))
    written.push('BENCHMARKS.md')
  }
  console.log(`\nWrote ${written.join(', ')} (${Math.round(run.durationS)} s).`)
}

main()
  .catch(async (err) => {
    if (!aborting) console.error(`bench: ${err.stack ?? err}`)
    process.exitCode = 1
  })
  .finally(async () => {
    if (!aborting) await cleanup()
  })
