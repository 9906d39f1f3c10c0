#!/usr/bin/env node
/**
 * TCP streams through edgerelay, side by side in one run with the direct path, socat's one hop and
 * a plain one-hop pipe() relay on the same runtime (issue 12's stream benchmarks):
 *
 *   throughput  iperf3, 1 and 8 parallel streams, through tcp/listen → tcp or ws tunnel → tcp/connect
 *   fairness    7 readers from a source with and without an 8th stream whose reader stopped
 *   many        1,000 concurrent streams × 100 echo round trips on one tunnel connection; memory
 *               per open idle stream on each half
 *   ttfb        time to the first byte of a server that greets on accept, direct and through the halves
 *
 *   node bench/streams.mjs [--seconds 4] [--only node,bun] [--skip throughput,fairness,many,ttfb] [--render]
 *
 * Writes bench/results/streams.json and streams.md (bench/run.mjs puts the latter in BENCHMARKS.md).
 * Every process it starts is killed on exit; traffic stays on 127.0.0.1.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { freePort } from '../test/helpers/free-ports.mjs'
import { sleep } from '../test/helpers/timing.mjs'
import { arg, BUN, buildPackage, DENO, DENO_FLAGS, ROOT, scriptCommand } from './script-tools.mjs'
import { streamsChart } from './streams-chart.mjs'

const RESULTS = path.join(ROOT, 'bench', 'results')
const SECONDS = Number(arg('seconds', '4'))
const RUNTIMES = (arg('only', 'node,bun,deno')).split(',')
const SKIP = new Set((arg('skip', '')).split(',').filter(Boolean))
const children = new Set()

/** A process in its own group, its output kept; `ready` resolves when `pattern` shows up. */
function start(cmd, args, pattern) {
  const child = spawn(cmd, args, { cwd: ROOT, detached: true, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } })
  children.add(child)
  child.output = ''
  child.lines = []
  const onText = (d) => {
    child.output += d.toString()
    if (child.output.length > 1e6) child.output = child.output.slice(-1e5)
    let nl
    while ((nl = child.output.indexOf('\n')) >= 0) {
      child.lines.push(child.output.slice(0, nl))
      child.output = child.output.slice(nl + 1)
    }
  }
  child.stdout.on('data', onText)
  child.stderr.on('data', onText)
  child.on('exit', () => children.delete(child))
  child.waitFor = (re, ms = 15_000) => waitLine(child, re, ms)
  if (pattern) child.ready = child.waitFor(pattern)
  return child
}

async function waitLine(child, re, ms) {
  const t0 = Date.now()
  for (;;) {
    const line = child.lines.find((l) => re.test(l))
    if (line !== undefined) {
      child.lines.splice(child.lines.indexOf(line), 1)
      return line
    }
    if (child.exitCode !== null) throw new Error(`${child.spawnargs.join(' ')} exited (${child.exitCode}): ${child.lines.slice(-5).join(' | ')}`)
    if (Date.now() - t0 > ms) throw new Error(`no ${re} from ${child.spawnargs.slice(0, 4).join(' ')} within ${ms} ms: ${child.lines.slice(-5).join(' | ')}`)
    await sleep(20)
  }
}

function kill(child) {
  try {
    process.kill(-child.pid, 'SIGKILL')
  } catch {}
  children.delete(child)
}

process.on('exit', () => children.forEach(kill))
process.on('SIGINT', () => process.exit(130))

function rssKiB(pid) {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN)
  } catch {
    return NaN
  }
}

function halfCommand(runtime, args) {
  switch (runtime) {
    case 'node': return [process.execPath, ['bin/edgerelay.mjs', ...args]]
    case 'bun': return [BUN, ['--conditions=edgerelay-source', 'src/cli/main.ts', ...args]]
    case 'deno': return [DENO, ['run', ...DENO_FLAGS, 'src/cli/main.ts', ...args]]
  }
}

const TUNNELS = {
  tcp: { server: (p) => `tcp/server:127.0.0.1:${p}`, client: (p) => `tcp/client:127.0.0.1:${p}` },
  ws: { server: (p) => `ws/server:127.0.0.1:${p}/b`, client: (p) => `ws/client:ws://127.0.0.1:${p}/b` },
}

const SNAPSHOTS = fs.mkdtempSync(path.join(os.tmpdir(), 'edgerelay-streams-heap-'))
process.on('exit', () => fs.rmSync(SNAPSHOTS, { recursive: true, force: true }))

/**
 * The live JS heap of a node half, in KiB: SIGUSR2 makes it write a heap snapshot (node
 * --heapsnapshot-signal, which collects garbage first); the sum of the nodes' self sizes is what is
 * still reachable. RSS cannot say that: it keeps whatever garbage has not been collected yet.
 */
async function heapKiB(child) {
  const seen = new Set(fs.readdirSync(SNAPSHOTS))
  process.kill(child.pid, 'SIGUSR2')
  for (let i = 0; i < 600; i++) {
    await sleep(100)
    const file = fs.readdirSync(SNAPSHOTS).find((f) => !seen.has(f) && f.endsWith('.heapsnapshot'))
    if (!file) continue
    let snap
    try {
      snap = JSON.parse(fs.readFileSync(path.join(SNAPSHOTS, file), 'utf8'))
    } catch {
      continue // still being written
    }
    fs.rmSync(path.join(SNAPSHOTS, file))
    const fields = snap.snapshot.meta.node_fields
    const at = fields.indexOf('self_size')
    let sum = 0
    for (let j = at; j < snap.nodes.length; j += fields.length) sum += snap.nodes[j]
    return sum / 1024
  }
  throw new Error('no heap snapshot within 60 s')
}

/**
 * Far half (tunnel server → tcp/connect to `dst`) and near half (tcp/listen → tunnel client); resolves
 * with the port to use. `socks`: the near half is socks5/listen and the far half tcp/dial, allowed `dst` only.
 */
async function halves(runtime, tunnel, dst, { heapSnapshots = false, socks = false } = {}) {
  const [t, n] = [await freePort(), await freePort()]
  // 1,000 concurrent streams: the per-connection limit and the half's global one (by default a
  // quarter of the descriptors, and Deno, unable to read ulimit -n without -A, assumes 1,024).
  const common = ['--log-level', 'warn', '--max-streams', '4096', '--max-tcp-streams', '4096']
  const command = (args) => {
    const [cmd, full] = halfCommand(runtime, args)
    return runtime === 'node' && heapSnapshots ? [cmd, ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${SNAPSHOTS}`, ...full]] : [cmd, full]
  }
  const farOut = socks ? ['tcp/dial', '--allow', `127.0.0.1:${dst}`] : [`tcp/connect:127.0.0.1:${dst}`]
  const [fc, fa] = command([...common, '--in', TUNNELS[tunnel].server(t), '--out', ...farOut])
  const far = start(fc, fa)
  await sleep(runtime === 'node' ? 300 : 600)
  const [nc, na] = command([...common, '--log-level', 'info', '--in', `${socks ? 'socks5' : 'tcp'}/listen:127.0.0.1:${n}`, '--out', TUNNELS[tunnel].client(t)])
  const near = start(nc, na, /connected to/)
  await near.ready
  return { port: n, far, near, stop: () => (kill(near), kill(far)) }
}

function peer(mode, args, pattern = /listening|open/) {
  const [cmd, full] = [process.execPath, ['bench/stream-peers.mjs', mode, ...args]]
  return start(cmd, full, pattern)
}

async function iperf(port, parallel) {
  for (let attempt = 0; ; attempt++) {
    const child = start('iperf3', ['-c', '127.0.0.1', '-p', String(port), '-t', String(SECONDS), '-O', '1', '-P', String(parallel), '-J'])
    await new Promise((resolve) => child.on('exit', resolve))
    const report = JSON.parse(child.lines.join('\n') + child.output)
    // The server takes a moment after a test before it takes the next.
    if (/busy/.test(report.error ?? '') && attempt < 10) {
      await sleep(300)
      continue
    }
    if (report.error) throw new Error(`iperf3: ${report.error}`)
    return report.end.sum_received.bits_per_second / 1e9
  }
}

async function json(child, re) {
  return JSON.parse(await child.waitFor(re, 120_000))
}

// ---------------------------------------------------------------------------------------------

async function throughput(results) {
  const iperfPort = await freePort()
  const server = start('iperf3', ['-s', '-B', '127.0.0.1', '-p', String(iperfPort), '--forceflush'], /Server listening/)
  await server.ready
  const rows = []
  const measure = async (path, runtime, port) => {
    const one = await iperf(port, 1)
    const eight = await iperf(port, 8)
    rows.push({ path, runtime, one, eight })
    console.log(`throughput ${path.padEnd(14)} ${runtime.padEnd(5)} 1 stream ${one.toFixed(2)} Gbit/s, 8 streams ${eight.toFixed(2)} Gbit/s`)
  }
  await measure('direct', '-', iperfPort)
  const socatPort = await freePort()
  const socat = start('socat', [`TCP-LISTEN:${socatPort},bind=127.0.0.1,reuseaddr,fork`, `TCP:127.0.0.1:${iperfPort}`])
  await sleep(300)
  await measure('socat', '-', socatPort)
  kill(socat)
  for (const runtime of RUNTIMES) {
    const hopPort = await freePort()
    const [hc, ha] = scriptCommand(runtime, 'bench/tcp-hop.ts', ['--listen', String(hopPort), '--to', String(iperfPort)])
    const hop = start(hc, ha, /listening/)
    await hop.ready
    await measure('pipe hop', runtime, hopPort)
    kill(hop)
    for (const tunnel of ['tcp', 'ws']) {
      const h = await halves(runtime, tunnel, iperfPort)
      await measure(`${tunnel} tunnel`, runtime, h.port)
      h.stop()
    }
  }
  kill(server)
  results.throughput = rows
}

async function fairness(results) {
  const rows = []
  for (const runtime of RUNTIMES) {
    const source = peer('source', ['--port', String(await freePort())])
    const srcPort = JSON.parse(await source.ready).listening
    const h = await halves(runtime, 'tcp', srcPort, { heapSnapshots: true })
    const idle = { near: rssKiB(h.near.pid), far: rssKiB(h.far.pid) }
    const readers = async (stalled) => {
      const peak = { near: 0, far: 0 }
      const r = peer('readers', ['--port', String(h.port), '--streams', '7', '--stalled', String(stalled), '--seconds', String(SECONDS), '--hold'], /mbps/)
      const poll = setInterval(() => {
        peak.near = Math.max(peak.near, rssKiB(h.near.pid))
        peak.far = Math.max(peak.far, rssKiB(h.far.pid))
      }, 100)
      const out = JSON.parse(await r.ready)
      clearInterval(poll)
      // Still running, the stalled stream still open: what the node halves really hold (live heap).
      const heap = runtime === 'node' ? { near: await heapKiB(h.near), far: await heapKiB(h.far) } : undefined
      r.stdin.write('done\n')
      return { ...out, peak, heap }
    }
    await readers(0) // warm-up: the first run after start pays for compiling
    // Alternating rounds, the median of each: one round on this shared machine moves by ±20 %.
    const aloneRuns = []
    const stallRuns = []
    for (let i = 0; i < 3; i++) {
      aloneRuns.push(await readers(0))
      stallRuns.push(await readers(1))
    }
    const median = (runs) => [...runs].sort((a, b) => a.mbps - b.mbps)[1]
    const alone = median(aloneRuns)
    const withStall = median(stallRuns)
    withStall.peak = { near: Math.max(...stallRuns.map((x) => x.peak.near)), far: Math.max(...stallRuns.map((x) => x.peak.far)) }
    const row = { runtime, aloneMbps: alone.mbps, stalledMbps: withStall.mbps, ratio: withStall.mbps / alone.mbps, rounds: { alone: aloneRuns.map((x) => x.mbps), stalled: stallRuns.map((x) => x.mbps) }, idleRssKiB: idle, peakRssKiB: withStall.peak, liveHeapKiB: withStall.heap, stalledBytesRead: withStall.stalledBytesRead }
    rows.push(row)
    console.log(`fairness ${runtime}: 7 readers ${alone.mbps.toFixed(0)} Mbit/s alone, ${withStall.mbps.toFixed(0)} Mbit/s beside a stalled one (×${row.ratio.toFixed(2)}); peak RSS near ${(withStall.peak.near / 1024).toFixed(0)} MiB, far ${(withStall.peak.far / 1024).toFixed(0)} MiB (idle ${(idle.near / 1024).toFixed(0)}, ${(idle.far / 1024).toFixed(0)})`)
    h.stop()
    kill(source)
  }
  results.fairness = rows
}

/** bench/stream-memory.ts on `runtime`: live heap per open idle stream, both halves in one process, after a full collection. */
async function memoryPerStream(runtime) {
  const [cmd, args] = runtime === 'node'
    ? [process.execPath, ['--expose-gc', '-C', 'edgerelay-source', '--import', 'tsx', 'bench/stream-memory.ts']]
    : runtime === 'bun' ? [BUN, ['--conditions=edgerelay-source', 'bench/stream-memory.ts']] : [DENO, ['run', ...DENO_FLAGS, '--v8-flags=--expose-gc', 'bench/stream-memory.ts']]
  return JSON.parse(await start(cmd, args).waitFor(/perHalfKiB/, 120_000))
}

async function many(results) {
  const rows = []
  for (const runtime of RUNTIMES) {
    const echo = peer('echo', ['--port', String(await freePort())])
    const echoPort = JSON.parse(await echo.ready).listening
    const h = await halves(runtime, 'tcp', echoPort, { heapSnapshots: true })
    // One stream opened and closed first, so the code paths are compiled before the baseline.
    JSON.parse(await peer('ping', ['--port', String(h.port), '--count', '10'], /p50/).ready)
    await sleep(1000)
    const beforeHeap = runtime === 'node' ? { near: await heapKiB(h.near), far: await heapKiB(h.far) } : undefined
    const client = peer('rtt', ['--port', String(h.port), '--streams', '1000', '--rounds', '100'], /"open"/)
    await client.ready
    await sleep(2000)
    const openHeap = runtime === 'node' ? { near: await heapKiB(h.near), far: await heapKiB(h.far) } : undefined
    client.stdin.write('go\n')
    const out = await json(client, /p50/)
    // The round trip of one stream alone, for the TTFB target: direct and through the halves.
    const pingDirect = JSON.parse(await peer('ping', ['--port', String(echoPort), '--count', '500'], /p50/).ready)
    const pingTunnel = JSON.parse(await peer('ping', ['--port', String(h.port), '--count', '500'], /p50/).ready)
    const row = { runtime, ...out, memory: await memoryPerStream(runtime), pingDirect, pingTunnel }
    if (openHeap) row.heapPerStreamKiB = { near: (openHeap.near - beforeHeap.near) / 1000, far: (openHeap.far - beforeHeap.far) / 1000 }
    rows.push(row)
    console.log(`many ${runtime}: ${out.completed}/${out.streams * out.rounds} round trips, p50 ${out.p50.toFixed(2)} ms, p99 ${out.p99.toFixed(2)} ms; live heap per idle stream per half ${row.memory.perHalfKiB.toFixed(2)} KiB${row.heapPerStreamKiB ? ` (separate processes: near ${row.heapPerStreamKiB.near.toFixed(2)} KiB, far ${row.heapPerStreamKiB.far.toFixed(2)} KiB)` : ''}; 1 stream ping p50 ${pingTunnel.p50.toFixed(3)} ms (direct ${pingDirect.p50.toFixed(3)})`)
    h.stop()
    kill(echo)
  }
  results.many = rows
}

/** One stream's echo round trip through the halves (the median of 500), when the 'many' part did not measure it. */
async function tunnelRtt(runtime) {
  const echo = peer('echo', ['--port', String(await freePort())])
  const h = await halves(runtime, 'tcp', JSON.parse(await echo.ready).listening)
  JSON.parse(await peer('ping', ['--port', String(h.port), '--count', '50'], /p50/).ready) // warm-up
  const ping = JSON.parse(await peer('ping', ['--port', String(h.port), '--count', '500'], /p50/).ready)
  h.stop()
  kill(echo)
  return ping.p50
}

async function ttfb(results) {
  const rows = []
  const greet = peer('greet', ['--port', String(await freePort())])
  const greetPort = JSON.parse(await greet.ready).listening
  const direct = JSON.parse(await peer('ttfb', ['--port', String(greetPort), '--count', '300'], /p50/).ready)
  for (const runtime of RUNTIMES) {
    const h = await halves(runtime, 'tcp', greetPort)
    await JSON.parse(await peer('ttfb', ['--port', String(h.port), '--count', '50'], /p50/).ready) // warm-up
    const through = JSON.parse(await peer('ttfb', ['--port', String(h.port), '--count', '300'], /p50/).ready)
    h.stop()
    const s = await halves(runtime, 'tcp', greetPort, { socks: true })
    const socksArgs = ['--port', String(s.port), '--target', String(greetPort)]
    await JSON.parse(await peer('socks-ttfb', [...socksArgs, '--count', '50'], /p50/).ready) // warm-up
    const socks = JSON.parse(await peer('socks-ttfb', [...socksArgs, '--count', '300'], /p50/).ready)
    const pipelined = JSON.parse(await peer('socks-ttfb', [...socksArgs, '--count', '300', '--pipelined'], /p50/).ready)
    s.stop()
    const rtt = results.many?.find((m) => m.runtime === runtime)?.pingTunnel.p50 ?? await tunnelRtt(runtime)
    rows.push({ runtime, direct, through, added: through.p50 - direct.p50, socks, socksAdded: socks.p50 - direct.p50, pipelined, pipelinedAdded: pipelined.p50 - direct.p50, tunnelRtt: rtt })
    console.log(`ttfb ${runtime}: direct p50 ${direct.p50.toFixed(3)} ms, through tcp/listen ${through.p50.toFixed(3)} ms (added ${(through.p50 - direct.p50).toFixed(3)} ms), through socks5/listen ${socks.p50.toFixed(3)} ms (added ${(socks.p50 - direct.p50).toFixed(3)} ms; greeting and CONNECT in one write ${pipelined.p50.toFixed(3)} ms); one round trip through the halves ${rtt.toFixed(3)} ms`)
  }
  kill(greet)
  results.ttfb = rows
}

// ---------------------------------------------------------------------------------------------

/** What the profiles of the misses showed when this bench was written; kept with its date, not regenerated. */
const PROFILE_NOTES = [
  '### Where the missed targets go (profiles of 2026-12-06, load average 3–5 on the 2 shared cores)',
  '',
  '- **ws tunnel**: the `ws` package masks every client frame and unmasks it on the server in JavaScript (`_mask` 26 %, `_unmask` 19 % of the two node halves under `--cpu-prof`); its native helper `bufferutil` is not installed. RFC 6455 requires the mask, so this is the price of WebSocket through `ws` without it.',
  '- **tcp tunnel vs direct and socat**: under `--cpu-prof` (node) and `deno --cpu-prof` both halves were 46–65 % idle while iperf3 ran; the busy part is mostly the socket write calls (`writev`/`writeBuffer`, 18–33 %), then copies (encoding 8 %, the receiver\'s copy of each payload 8 %). Four busy processes (iperf3\'s two, the two halves) share two cores, so a two-process tunnel gets a smaller share than a one-process hop; socat itself reaches only 0.2–0.3 of direct here. Bun\'s first profile showed its `writev` copying every corked buffer into one (36 %); large writes are no longer corked, and that copy is gone.',
  '- **time to first byte**: per connection the far half connects to the destination and three loopback writes happen in series (the open, the acceptance, the first data), and on this VM a loopback write costs 0.1–0.3 ms (`writeBuffer`: 0.2 ms a connection on the near half, 0.33 ms on the far half; `connect` 0.14 ms), more than the 0.5 ms the target leaves beside one round trip.',
  '- **fairness**: one 4 s round moves by ±20 % here; the three runs made while writing this bench gave 1.12/1.16/1.01, 0.84/0.79/1.22 and the table\'s figures for node/bun/deno, so a penalty below 10 % cannot be told from the noise. What the test suite checks exactly: a stalled stream holds at most its window and the others finish (test/conformance/streams.test.ts, test/unit/stream-mux.test.ts).',
  '',
]

const fmt = (n, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : '–')
const hold = (ok) => (ok ? 'holds' : '**misses**')

function markdown(r) {
  const out = ['## TCP streams', '', `Generated by \`node bench/streams.mjs\` (also run by \`npm run bench\`) on ${r.startedAt}; load average ${r.load.before.map((x) => x.toFixed(2)).join(' ')} before, ${r.load.after.map((x) => x.toFixed(2)).join(' ')} after. Raw numbers: [bench/results/streams.json](bench/results/streams.json).`, '']
  out.push('Each half is its own process (node runs the compiled `bin/edgerelay.mjs`, bun and deno the sources), `--in tcp/listen:… --out tcp/client:…` and `--in tcp/server:… --out tcp/connect:…` (ws: `ws/client`/`ws/server`), on 127.0.0.1; the client and the servers are separate processes too. The machine has 2 cores shared by the two halves, iperf3\'s client and server: a one-hop relay has one process in the path, the tunnel two.', '')
  if (r.throughput) {
    const direct = r.throughput.find((x) => x.path === 'direct')
    const socat = r.throughput.find((x) => x.path === 'socat')
    out.push(`### Throughput (iperf3, ${SECONDS} s after 1 s omitted)`, '', '![TCP streams throughput per path and runtime](bench/results/streams.svg)', '', '| path | runtime | 1 stream, Gbit/s | 8 streams, Gbit/s | 1 stream ÷ socat | 1 stream ÷ direct | target |', '|---|---|---|---|---|---|---|')
    for (const x of r.throughput) {
      const tunnel = x.path.endsWith('tunnel')
      const goal = x.runtime === 'deno' ? 0.5 : 0.7
      const target = tunnel ? `≥ ${goal}× socat: ${hold(x.one / socat.one >= goal)}; ≥ 0.25× direct: ${hold(x.one / direct.one >= 0.25)}` : ''
      out.push(`| ${x.path} | ${x.runtime} | ${fmt(x.one)} | ${fmt(x.eight)} | ${fmt(x.one / socat.one)} | ${fmt(x.one / direct.one)} | ${target} |`)
    }
    out.push('')
  }
  if (r.fairness) {
    out.push(`### Fairness: 7 readers, with and without an 8th stream whose reader stopped (tcp tunnel, median of 3 alternating rounds of ${SECONDS} s)`, '', '| runtime | 7 alone, Mbit/s | beside a stalled one, Mbit/s | ratio (target ≥ 0.9) | live heap with the stalled stream open, near / far, MiB | peak RSS near / far, MiB (idle) |', '|---|---|---|---|---|---|')
    for (const x of r.fairness) out.push(`| ${x.runtime} | ${fmt(x.aloneMbps, 0)} | ${fmt(x.stalledMbps, 0)} | ${fmt(x.ratio)}: ${hold(x.ratio >= 0.9)} | ${x.liveHeapKiB ? `${fmt(x.liveHeapKiB.near / 1024, 1)} / ${fmt(x.liveHeapKiB.far / 1024, 1)}` : '–'} | ${fmt(x.peakRssKiB.near / 1024, 0)} / ${fmt(x.peakRssKiB.far / 1024, 0)} (${fmt(x.idleRssKiB.near / 1024, 0)} / ${fmt(x.idleRssKiB.far / 1024, 0)}) |`)
    out.push('', 'The caps: a stream holds at most its window (256 KiB, growing with the bandwidth-delay product to at most 16 MiB; all streams of a connection within 64 MiB), 64 KiB queued on its sending side and 128 KiB in its local socket\'s user-space buffer; a connection at most 1 MiB of stream data in its send buffer. *Live heap* (node: a heap snapshot of each half while the 7 readers and the stalled stream are still open) is what the halves hold; peak RSS also counts the garbage of moving gigabytes, which V8 collects in its own time.', '')
  }
  if (r.many) {
    out.push('### 1,000 concurrent streams × 100 echo round trips (64 bytes), one tcp tunnel connection', '', '| runtime | round trips completed | p50, ms | p99, ms | live heap per open idle stream, per half, KiB (target < 8 KB) | node halves as separate processes, near / far, KiB |', '|---|---|---|---|---|---|')
    for (const x of r.many) {
      const heap = x.heapPerStreamKiB
      const ok = x.memory.perHalfKiB * 1024 < 8000 && (!heap || (heap.near * 1024 < 8000 && heap.far * 1024 < 8000))
      out.push(`| ${x.runtime} | ${x.completed} / ${x.streams * x.rounds} | ${fmt(x.p50)} | ${fmt(x.p99)} | ${fmt(x.memory.perHalfKiB, 2)}: ${hold(ok)} | ${heap ? `${fmt(heap.near, 2)} / ${fmt(heap.far, 2)}` : '–'} |`)
    }
    out.push('', 'The 1,000 connections are opened first and left idle for 2 s; then each does its 100 round trips, all at once (so p50 is mostly the queue of 1,000 messages in flight). *Live heap per stream* ([bench/stream-memory.ts](bench/stream-memory.ts), on each runtime): both halves in one process, 1,000 streams open and idle, the heap after a full garbage collection minus the same with 1,000 plain connections (the two end sockets a stream has anyway), halved: what a stream costs a half, its local socket included. For node the same is measured on the two half processes of this run from heap snapshots (node `--heapsnapshot-signal`, which collects first). RSS is not used: it keeps garbage not yet collected and heap pages V8 holds on to.', '')
  }
  if (r.ttfb) {
    out.push('### Time to first byte (a server that greets on accept; 300 connections one after another, tcp tunnel)', '', '| runtime | path | direct p50, ms | through the halves p50, ms | added, ms | one round trip through the halves, ms | target: added ≤ round trip + 0.5 ms |', '|---|---|---|---|---|---|---|')
    for (const x of r.ttfb) {
      const row = (path, through, added) => `| ${x.runtime} | ${path} | ${fmt(x.direct.p50, 3)} | ${fmt(through.p50, 3)} | ${fmt(added, 3)} | ${fmt(x.tunnelRtt, 3)} | ${x.tunnelRtt === undefined ? '–' : hold(added <= x.tunnelRtt + 0.5)} |`
      out.push(row('tcp/listen → tcp/connect', x.through, x.added))
      if (x.socks) out.push(row('socks5/listen → tcp/dial', x.socks, x.socksAdded))
      if (x.pipelined) out.push(row('socks5/listen, greeting and CONNECT in one write', x.pipelined, x.pipelinedAdded))
    }
    out.push('', 'The first byte needs the open to reach the far half, its connect, and the acceptance back: one round trip through the halves. Through socks5/listen the client talks SOCKS5 as curl does (greeting, its answer, CONNECT to the address, the reply), so the added time also holds one local round trip to the near half for the greeting, which the target does not count; the last row sends greeting and CONNECT in one write (as a client that does not wait for the method choice), leaving the one tunnel round trip. The far half checks `--allow` before it dials.', '')
  }
  out.push(...PROFILE_NOTES)
  return out.join('\n')
}

async function main() {
  if (process.argv.includes('--render')) {
    // Rewrites streams.md from the last streams.json (the notes or the layout changed, not the numbers).
    const last = JSON.parse(fs.readFileSync(path.join(RESULTS, 'streams.json'), 'utf8'))
    fs.writeFileSync(path.join(RESULTS, 'streams.md'), markdown(last))
    fs.writeFileSync(path.join(RESULTS, 'streams.svg'), streamsChart(last))
    return
  }
  const results = { startedAt: new Date().toISOString(), load: { before: os.loadavg() }, seconds: SECONDS, runtimes: RUNTIMES }
  console.log(`load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`)
  if (RUNTIMES.includes('node')) buildPackage()
  if (!SKIP.has('throughput')) await throughput(results)
  if (!SKIP.has('fairness')) await fairness(results)
  if (!SKIP.has('many')) await many(results)
  if (!SKIP.has('ttfb')) await ttfb(results)
  results.load.after = os.loadavg()
  fs.mkdirSync(RESULTS, { recursive: true })
  fs.writeFileSync(path.join(RESULTS, 'streams.json'), JSON.stringify(results, null, 2) + '\n')
  fs.writeFileSync(path.join(RESULTS, 'streams.md'), markdown(results))
  fs.writeFileSync(path.join(RESULTS, 'streams.svg'), streamsChart(results))
  console.log('\nWrote bench/results/streams.json, bench/results/streams.md, bench/results/streams.svg')
}

main().then(() => process.exit(0), (err) => {
  console.error(`bench/streams: ${err.stack ?? err}`)
  process.exit(1)
})
