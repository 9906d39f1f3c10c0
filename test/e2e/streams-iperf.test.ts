/**
 * iperf3 (Debian's) through a forwarded port: the real CLI halves, tcp/listen → tcp and ws tunnels
 * → tcp/connect to an iperf3 server. iperf3 opens a control connection and data connections, each
 * a stream; its JSON report must show data both ways and no error. Tests assert behaviour, not speed.
 */
import assert from 'node:assert/strict'
import { test } from '../harness.ts'
import { needPeers } from '../helpers/peers.ts'
import { CLI, run, startOnFreePort } from '../helpers/processes.ts'

for (const tunnel of ['tcp', 'ws'] as const) {
  test(`iperf3 through a forwarded port over a ${tunnel} tunnel: one stream, four parallel, and reversed`, async (t) => {
    needPeers('iperf3')
    const cli = CLI[t.runtime]
    const iperf = await startOnFreePort(t, (p) => ['iperf3', '-s', '-B', '127.0.0.1', '-p', String(p), '--forceflush'], /Server listening/)
    const server = tunnel === 'tcp' ? (p: number) => `tcp/server:127.0.0.1:${p}` : (p: number) => `ws/server:127.0.0.1:${p}/i`
    const client = tunnel === 'tcp' ? (p: number) => `tcp/client:127.0.0.1:${p}` : (p: number) => `ws/client:ws://127.0.0.1:${p}/i`
    const far = await startOnFreePort(t, (p) => [...cli, '--in', server(p), '--out', `tcp/connect:127.0.0.1:${iperf.port}`], /listening on/)
    const near = await startOnFreePort(t, (p) => [...cli, '--in', `tcp/listen:127.0.0.1:${p}`, '--out', client(far.port)], /listening on 127/)
    await near.proc.waitFor(/connected to/)
    for (const extra of [[], ['-P', '4'], ['-R']]) {
      let report: { error?: string; end: { sum_sent: { bytes: number }; sum_received: { bytes: number } } }
      // The iperf3 server takes a moment after a test before it takes the next ("busy"): ask again.
      for (let attempt = 0; ; attempt++) {
        const res = await run(['iperf3', '-c', '127.0.0.1', '-p', String(near.port), '-t', '1', '-J', ...extra], 30_000)
        report = JSON.parse(res.stdout)
        if (!/busy/.test(report.error ?? '') || attempt === 10) break
        await new Promise((r) => setTimeout(r, 300))
      }
      assert.equal(report.error, undefined, `iperf3 ${extra.join(' ')}: ${report.error}`)
      assert.ok(report.end.sum_received.bytes > 0, `iperf3 ${extra.join(' ')} moved no data`)
      assert.ok(report.end.sum_received.bytes <= report.end.sum_sent.bytes)
    }
  }, { timeout: 90_000 })
}
