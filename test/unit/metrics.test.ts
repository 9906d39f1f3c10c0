import assert from 'node:assert/strict'
import { test } from '../harness.ts'
import { Histogram } from '../../src/base/histogram.ts'
import { Stats } from '../../src/base/stats.ts'
import { renderMetrics } from '../../src/half/metrics.ts'
import { mergeMetrics } from '../../src/half/metrics-merge.ts'
import type { Half } from '../../src/half/start-half.ts'

/** Just what renderMetrics reads of a half. */
function fakeHalf(name: string, stats: Stats, ready = true): Half {
  return { name, stats, connectors: { in: 'udp/listen', out: 'tcp/client' }, ready: () => ready } as unknown as Half
}

test('a scope counts into the half\'s totals; gauges add up; peaks stay peaks', () => {
  const half = new Stats()
  const a = half.scope('in')
  const b = half.scope('out')
  a.add('dropped.x')
  b.add('dropped.x', 2)
  a.gauge('flows.open', () => 3)
  a.gauge('flows.open', () => 4)
  b.max('tunnel.buffered_peak', 10)
  b.max('tunnel.buffered_peak', 5)
  assert.equal(half.get('dropped.x'), 3)
  assert.deepEqual(a.gaugeValues(), [['flows.open', 7]])
  assert.deepEqual(half.gaugeValues(), [['flows.open', 7]])
  assert.equal(half.get('tunnel.buffered_peak'), 10)
  assert.equal(half.scope('in'), a)
})

test('a histogram counts each observation in the first bucket that holds it, cumulatively, and in its parent', () => {
  const parent = new Histogram([0.001, 0.01])
  const h = new Histogram([0.001, 0.01], parent)
  for (const s of [0.0005, 0.001, 0.005, 2]) h.observe(s)
  assert.deepEqual(h.counts, [2, 1, 1])
  assert.deepEqual(h.cumulative(), [2, 3, 4])
  assert.equal(h.count, 4)
  assert.equal(parent.count, 4)
  assert.ok(Math.abs(h.sum - 2.0065) < 1e-12)
})

test('the exposition groups each family once (HELP, TYPE, samples) across halves and escapes label values', () => {
  const s1 = new Stats()
  s1.scope('in').add('dropped.queue_full', 2)
  s1.scope('out').add('tunnel.sent.request', 5)
  s1.scope('out').histogram('tunnel.request_rtt').observe(0.002)
  const s2 = new Stats()
  s2.scope('in').add('dropped.oversize')
  const text = renderMetrics([fakeHalf('a -> b', s1), fakeHalf('q"uote\\back\nline', s2, false)], { version: '1' })
  const lines = text.trimEnd().split('\n')
  assert.equal(lines.filter((l) => l === '# TYPE edgerelay_dropped_total counter').length, 1)
  const first = lines.indexOf('# TYPE edgerelay_dropped_total counter')
  assert.match(lines[first + 1]!, /^edgerelay_dropped_total\{half="a -> b",side="in",connector="udp\/listen",reason="queue_full"\} 2$/)
  assert.equal(lines[first + 2], 'edgerelay_dropped_total{half="q\\"uote\\\\back\\nline",side="in",connector="udp/listen",reason="oversize"} 1')
  assert.ok(lines.includes('edgerelay_half_ready{half="a -> b"} 1'))
  assert.ok(lines.includes('edgerelay_tunnel_frames_total{half="a -> b",side="out",connector="tcp/client",direction="out",kind="request"} 5'))
  assert.ok(lines.includes('edgerelay_tunnel_request_rtt_seconds_bucket{half="a -> b",side="out",connector="tcp/client",le="0.0025"} 1'))
  assert.ok(lines.includes('edgerelay_tunnel_request_rtt_seconds_bucket{half="a -> b",side="out",connector="tcp/client",le="0.001"} 0'))
  assert.ok(lines.includes('edgerelay_tunnel_request_rtt_seconds_count{half="a -> b",side="out",connector="tcp/client"} 1'))
  assert.ok(lines.includes('edgerelay_build_info{version="1"} 1'))
})

test('workers\' texts merge into one exposition: one group per family, a worker label on every sample', () => {
  const a = '# HELP x_total X.\n# TYPE x_total counter\nx_total{half="h"} 1\n# HELP up Up.\n# TYPE up gauge\nup 1\n'
  const b = '# HELP x_total X.\n# TYPE x_total counter\nx_total{half="h"} 2\n# HELP up Up.\n# TYPE up gauge\nup 0\n'
  assert.equal(mergeMetrics([{ worker: '1', text: a }, { worker: '2', text: b }]), [
    '# HELP x_total X.', '# TYPE x_total counter', 'x_total{worker="1",half="h"} 1', 'x_total{worker="2",half="h"} 2',
    '# HELP up Up.', '# TYPE up gauge', 'up{worker="1"} 1', 'up{worker="2"} 0', '',
  ].join('\n'))
})
