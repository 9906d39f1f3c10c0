import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, waitFor, type TestContext } from '../harness.ts'
import { withFreePorts } from '../helpers/with-free-ports.ts'
import { needPeers } from '../helpers/peers.ts'
import { CLI, ownLockfile, run, startOnFreePort, startOnFreePorts, startProcess } from '../helpers/processes.ts'
import { rawConnect } from '../helpers/raw-tcp.ts'
import { echoDevice, roundTrip, udpPeer } from '../helpers/udp.ts'

// --metrics on real CLI halves of this runtime: Prometheus text checked by Debian's promtool, the
// values it shows after real traffic, and /healthz following the tunnel.

/** `promtool check metrics` on `text`: its exit code and what it said. */
async function promtool(t: TestContext, text: string): Promise<{ code: number | string; output: string }> {
  needPeers('promtool')
  const dir = mkdtempSync(join(tmpdir(), 'edgerelay-metrics-'))
  t.defer(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'metrics.txt'), text)
  const r = await run(['sh', '-c', `promtool check metrics < ${join(dir, 'metrics.txt')}`])
  return { code: r.code, output: r.stdout + r.stderr }
}

/** The value of the one sample of `metric` whose labels include every `labels` pair (undefined if none). */
function sample(text: string, metric: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{.*\})? (\S+)$/.exec(line)
    if (!m || m[1] !== metric) continue
    if (Object.entries(labels).every(([k, v]) => (m[2] ?? '').includes(`${k}="${v}"`))) return Number(m[3])
  }
  return undefined
}

/** A half's output once both its tunnel server and its metrics port listen, in either order. */
const bothListening = /^(?=[\s\S]*listening on)(?=[\s\S]*metrics on http:\/\/127\.0\.0\.1:\d+\/metrics)/

const get = async (port: number, path: string) => {
  const r = await fetch(`http://127.0.0.1:${port}${path}`)
  return { status: r.status, type: r.headers.get('content-type'), body: await r.text() }
}

test('--metrics: Prometheus text that promtool accepts, with frames, bytes, flows, connections and round-trip times after real traffic', async (t) => {
  const cli = CLI[t.runtime]
  const device = await echoDevice(t)
  const { ports: [tunnel, farMetrics] } = await startOnFreePorts(t, 2, ([tunnel, farMetrics]) => [...cli, '--in', `tcp/server:127.0.0.1:${tunnel}`, '--out', `udp/broadcast:127.0.0.1:${device.port}`, '--metrics', `127.0.0.1:${farMetrics}`], bothListening)
  const { proc: nearHalf, ports: [near, nearMetrics] } = await startOnFreePorts(t, 2, ([near, nearMetrics]) => [...cli, '--in', `udp/listen:127.0.0.1:${near}`, '--out', `tcp/client:127.0.0.1:${tunnel}`, '--metrics', `127.0.0.1:${nearMetrics}`], /connected to/)
  await nearHalf.waitFor(/metrics on/)
  for (let i = 0; i < 5; i++) assert.equal(await roundTrip(t, near, `ping${i}`), `reply0:ping${i}`)

  const n = await get(nearMetrics, '/metrics')
  assert.equal(n.status, 200)
  assert.equal(n.type, 'text/plain; version=0.0.4; charset=utf-8')
  const f = (await get(farMetrics, '/metrics')).body
  for (const [who, text] of [['near', n.body], ['far', f]]) {
    const checked = await promtool(t, text)
    assert.equal(checked.code, 0, `${who}: promtool: ${checked.output}\n${text}`)
    assert.equal(checked.output.trim(), '', `${who}: promtool lint: ${checked.output}`)
  }
  const nearOut = { side: 'out', connector: 'tcp/client' }
  assert.equal(sample(n.body, 'edgerelay_half_ready', { half: `udp/listen:127.0.0.1:${near} -> tcp/client:127.0.0.1:${tunnel}` }), 1)
  assert.equal(sample(n.body, 'edgerelay_tunnel_frames_total', { ...nearOut, direction: 'out', kind: 'request' }), 5)
  assert.equal(sample(n.body, 'edgerelay_tunnel_frames_total', { ...nearOut, direction: 'in', kind: 'reply' }), 5)
  assert.equal(sample(n.body, 'edgerelay_tunnel_payload_bytes_total', { ...nearOut, direction: 'out', kind: 'request' }), 25)
  assert.equal(sample(n.body, 'edgerelay_tunnel_payload_bytes_total', { ...nearOut, direction: 'in', kind: 'reply' }), 25 + 5 * 'reply0:'.length)
  assert.equal(sample(n.body, 'edgerelay_tunnel_connections', nearOut), 1)
  assert.equal(sample(n.body, 'edgerelay_tunnel_connected_total', nearOut), 1)
  assert.equal(sample(n.body, 'edgerelay_tunnel_request_rtt_seconds_count', nearOut), 5)
  assert.equal(sample(n.body, 'edgerelay_tunnel_request_rtt_seconds_bucket', { ...nearOut, le: '+Inf' }), 5)
  assert.ok(sample(n.body, 'edgerelay_tunnel_request_rtt_seconds_sum', nearOut)! > 0)
  assert.equal(sample(n.body, 'edgerelay_flows_open', { side: 'in', connector: 'udp/listen' }), 5)
  assert.equal(sample(n.body, 'edgerelay_udp_replies_total', { side: 'in', connector: 'udp/listen' }), 5)
  const farIn = { side: 'in', connector: 'tcp/server' }
  assert.equal(sample(f, 'edgerelay_tunnel_frames_total', { ...farIn, direction: 'in', kind: 'request' }), 5)
  assert.equal(sample(f, 'edgerelay_tunnel_frames_total', { ...farIn, direction: 'out', kind: 'reply' }), 5)
  assert.equal(sample(f, 'edgerelay_tunnel_accepted_total', farIn), 1)
  assert.equal(sample(f, 'edgerelay_tunnel_connections', farIn), 1)
  assert.equal(sample(f, 'edgerelay_flows_open', farIn), 5)
  assert.equal(sample(f, 'edgerelay_build_info', { version: '0.1.0', runtime: t.runtime }), 1)
}, { timeout: 40_000 })

test('/healthz is ready while the tunnel is up, 503 naming the half while it is down, ready again after a reconnect', async (t) => {
  const cli = CLI[t.runtime]
  const farArgs = (tunnel: number) => [...cli, '--in', `tcp/server:127.0.0.1:${tunnel}`, '--out', 'udp/broadcast:127.0.0.1:9']
  const first = await startOnFreePort(t, farArgs, /listening on/)
  const tunnel = first.port
  let far = first.proc
  const { proc: near, port: metrics } = await startOnFreePort(t, (metrics) => [...cli, '--in', 'udp/listen:127.0.0.1:0', '--out', `tcp/client:127.0.0.1:${tunnel}`, '--max-retry-delay', '300ms', '--metrics', `127.0.0.1:${metrics}`], /metrics on/)
  await waitFor(async () => (await get(metrics, '/healthz')).status === 200, 'ready')
  assert.equal((await get(metrics, '/healthz')).body, 'ready\n')
  await far.stop('SIGKILL')
  const down = await waitFor(async () => {
    const r = await get(metrics, '/healthz')
    return r.status === 503 ? r : undefined
  }, 'not ready once the far half is gone')
  assert.match(down.body, /^not ready\nudp\/listen:127\.0\.0\.1:0 -> tcp\/client:127\.0\.0\.1:\d+: not ready \(its tunnel has no connection\)\n$/)
  const m = (await get(metrics, '/metrics')).body
  assert.equal(sample(m, 'edgerelay_half_ready'), 0)
  assert.equal(sample(m, 'edgerelay_tunnel_connections', { side: 'out' }), 0)
  far = startProcess(t, [...farArgs(tunnel), ...ownLockfile(t)])
  await waitFor(async () => (await get(metrics, '/healthz')).status === 200, 'ready again after the far half is back', 10_000).catch((err) => {
    throw new Error(`${err.message}\nfar: ${far.output()}\nnear: ${near.output()}`)
  })
  assert.ok(sample((await get(metrics, '/metrics')).body, 'edgerelay_tunnel_retries_total', { side: 'out' })! >= 1)
}, { timeout: 40_000 })

test('drops by reason, queue depth and handshake failures by reason show in the metrics', async (t) => {
  const cli = CLI[t.runtime]
  // The far half binds `tunnel` last, which the near half dials from the start: taken by then,
  // the whole run starts again on other ports.
  await withFreePorts(t, 4, async ([tunnel, near, metrics, farMetrics], t) => {
    // No far half yet: one packet waits in the queue, the next two are dropped as queue_full.
    const half = startProcess(t, [...cli, '--in', `udp/listen:127.0.0.1:${near}`, '--out', `tcp/client:127.0.0.1:${tunnel}`, '--queue-packets', '1', '--metrics', `127.0.0.1:${metrics}`])
    await half.waitFor(/metrics on/)
    const client = await udpPeer(t)
    for (const p of ['a', 'b', 'c']) client.send(p, near)
    const m = await waitFor(async () => {
      const body = (await get(metrics, '/metrics')).body
      return sample(body, 'edgerelay_dropped_total', { reason: 'queue_full' }) === 2 ? body : undefined
    }, 'two queue_full drops')
    assert.equal(sample(m, 'edgerelay_tunnel_queue_packets', { side: 'out', connector: 'tcp/client' }), 1)
    assert.equal(sample(m, 'edgerelay_tunnel_queue_bytes', { side: 'out', connector: 'tcp/client' }), 1)
    assert.equal(sample(m, 'edgerelay_half_ready'), 0)
    // A client that is not edgerelay fails the far half's hello: counted under its code.
    const far = startProcess(t, [...cli, '--in', `tcp/server:127.0.0.1:${tunnel}`, '--out', 'udp/broadcast:127.0.0.1:9', '--metrics', `127.0.0.1:${farMetrics}`])
    await far.waitFor(bothListening)
    const raw = await rawConnect(t, tunnel)
    raw.write(new TextEncoder().encode('GET / HTTP/1.0\r\n\r\n'))
    await raw.closed
    const f = await waitFor(async () => {
      const body = (await get(farMetrics, '/metrics')).body
      return sample(body, 'edgerelay_tunnel_handshake_failures_total', { reason: 'E_HELLO_MAGIC' }) === 1 ? body : undefined
    }, 'a handshake failure counted as E_HELLO_MAGIC')
    assert.equal((await promtool(t, f)).code, 0)
  })
}, { timeout: 40_000 })

test('the metrics port answers 404 and 405 elsewhere; a bad --metrics address exits 2, a taken port exits 5', async (t) => {
  const cli = CLI[t.runtime]
  const { port: metrics } = await startOnFreePort(t, (metrics) => [...cli, '--in', 'udp/listen:127.0.0.1:0', '--out', 'udp/broadcast:127.0.0.1:9', '--metrics', `127.0.0.1:${metrics}`], /metrics on/)
  assert.equal((await get(metrics, '/healthz')).status, 200)
  assert.equal((await get(metrics, '/nope')).status, 404)
  assert.equal((await fetch(`http://127.0.0.1:${metrics}/metrics`, { method: 'POST' }).then(async (r) => (await r.text(), r.status))), 405)
  const taken = await run([...cli, '--in', 'udp/listen:127.0.0.1:0', '--out', 'udp/broadcast:127.0.0.1:9', '--metrics', `127.0.0.1:${metrics}`])
  assert.equal(taken.code, 5, taken.stderr)
  const bad = await run([...cli, '--in', 'udp/listen:127.0.0.1:0', '--out', 'udp/broadcast:127.0.0.1:9', '--metrics', '127.0.0.1'])
  assert.equal(bad.code, 2, bad.stderr)
}, { timeout: 30_000 })

test('datagrams the kernel drops for a full receive buffer are counted in the metrics and logged once per period', async (t) => {
  // Deno reads /proc only with --allow-all; without it the half says at start that it cannot count them.
  const cli = t.runtime === 'deno' ? [CLI.deno[0]!, 'run', '-A', '--unstable-net', CLI.deno.at(-1)!] : CLI[t.runtime]
  if (t.runtime === 'deno') {
    const limited = startProcess(t, [...CLI.deno, '--in', 'udp/listen:127.0.0.1:0', '--out', 'tcp/client:127.0.0.1:9'])
    await limited.waitFor(/kernel drops on full UDP receive buffers are not counted: .*--allow-all/)
  }
  // No far half: the tunnel keeps retrying, which does not matter to a socket that is not read.
  const { proc: half, ports: [listen, metricsPort] } = await startOnFreePorts(t, 2, ([listen, metricsPort]) => [...cli, '--in', `udp/listen:127.0.0.1:${listen}`, '--out', 'tcp/client:127.0.0.1:9', '--metrics', `127.0.0.1:${metricsPort}`], /metrics on/)
  // The control: the series is there and says 0 before the flood.
  assert.equal(sample((await get(metricsPort, '/metrics')).body, 'edgerelay_udp_receive_buffer_drops_total'), 0)
  const sender = await udpPeer(t)
  const pid = half.child.pid!
  process.kill(pid, 'SIGSTOP')
  try {
    // A stopped process reads nothing: 2,000 datagrams of 1,000 bytes overflow the socket's default receive buffer (about 208 KiB).
    const data = new Uint8Array(1000).fill(0x61)
    for (let i = 0; i < 2000; i++) sender.send(data, listen)
    await new Promise((resolve) => setTimeout(resolve, 200))
  } finally {
    process.kill(pid, 'SIGCONT')
  }
  const drops = sample((await get(metricsPort, '/metrics')).body, 'edgerelay_udp_receive_buffer_drops_total')!
  assert.ok(drops > 0 && drops <= 2000, `drops ${drops}`)
  const line = await half.waitFor(/the kernel dropped (\d+) datagrams for full UDP receive buffers/, 15_000)
  assert.ok(Number(/dropped (\d+)/.exec(line)![1]) <= 2000, line)
  assert.equal(half.output().match(/the kernel dropped/g)!.length, 1)
}, { timeout: 30_000 })
