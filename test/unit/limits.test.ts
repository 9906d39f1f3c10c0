import assert from 'node:assert/strict'
import { Budget, ConnectionLimits, defaultLimits, peerKey } from '../../src/base/limits.ts'
import { WarningLimiter } from '../../src/base/warning-limiter.ts'
import { Flow } from '../../src/core/flow.ts'
import { FlowBudget } from '../../src/core/flow-budget.ts'
import { FlowTable } from '../../src/core/flow-table.ts'
import { MAX_BATCH_BYTES } from '../../src/base/message-batch.ts'
import { MAX_ENCODED_FRAME } from '../../src/protocol/frame.ts'
import { resolveOptions } from '../../src/half/start-half.ts'
import { runtime } from '#runtime'
import { test } from '../harness.ts'
import { FakeClock } from '../helpers/fake-clock.ts'

// The half's global limits (issue 13 item 3), the warning limiter (item 7) and the checks of
// settings at start (item 8), as pure logic.

const at = (address: string, port = 1) => ({ address, port, family: (address.includes(':') ? 6 : 4) as 4 | 6 })

test('defaults from the descriptor limit stay under it, whatever is used', () => {
  for (const fds of [256, 1024, 20_000, 1 << 20]) {
    const l = defaultLimits(fds)
    // Every connection, flow socket and HTTP request's socket at once, plus the reserve.
    const worst = l.maxConnections + l.maxUdpSockets + l.maxTcpStreams + 64
    assert.ok(worst < fds, `${fds}: ${worst} descriptors could be used`)
    assert.ok(l.maxPending < l.maxConnections && l.maxConnectionsPerPeer < l.maxConnections)
  }
  assert.deepEqual(defaultLimits(undefined), defaultLimits(1024), 'an unknown limit is taken as 1024')
  assert.deepEqual(defaultLimits(Number.POSITIVE_INFINITY), defaultLimits(1 << 20), 'unlimited is capped')
})

test('the connection gate refuses the newest past each limit, with the reason, and counts authenticated peers out of pending', () => {
  const refused: string[] = []
  const gate = new ConnectionLimits({ maxConnections: 5, maxConnectionsPerPeer: 3, maxPending: 4 }, (_r, limit) => refused.push(limit))
  const a = [1, 2, 3].map((p) => gate.enter(at('10.0.0.1', p)))
  assert.ok(a.every((t) => typeof t !== 'string'))
  const fourth = gate.enter(at('10.0.0.1', 4))
  assert.match(fourth as string, /too many connections from 10\.0\.0\.1 \(3, the limit set by --max-connections-per-peer\)/)
  const b = gate.enter(at('10.0.0.2'))
  assert.equal(typeof b, 'object')
  assert.match(gate.enter(at('10.0.0.3')) as string, /not yet authenticated \(4, .*--max-pending\)/)
  ;(a[0] as { authenticated(): void }).authenticated()
  assert.equal(gate.pending, 3)
  assert.equal(typeof gate.enter(at('10.0.0.3')), 'object', 'room among the pending again')
  assert.match(gate.enter(at('10.0.0.4')) as string, /too many connections \(5, .*--max-connections\)/)
  ;(a[1] as { leave(): void }).leave()
  ;(a[1] as { leave(): void }).leave()
  assert.equal(gate.open, 4, 'leave() twice counts once')
  assert.deepEqual(refused, ['max-connections-per-peer', 'max-pending', 'max-connections'])
})

test('an IPv6 peer is counted by its /64', () => {
  assert.equal(peerKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64')
  assert.equal(peerKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64')
  assert.equal(peerKey('fe80::1%eth0'), 'fe80:0:0:0::/64')
  assert.equal(peerKey('192.0.2.7'), '192.0.2.7')
  const gate = new ConnectionLimits({ maxConnections: 100, maxConnectionsPerPeer: 2, maxPending: 100 }, () => {})
  gate.enter(at('2001:db8::1'))
  gate.enter(at('2001:db8::2'))
  assert.equal(typeof gate.enter(at('2001:db8::ffff:3')), 'string', 'another address of the same /64')
  assert.equal(typeof gate.enter(at('2001:db8:0:1::1')), 'object', 'another /64')
})

test('a budget refuses past its maximum and gives back what was taken', () => {
  const b = new Budget(2)
  assert.ok(b.take() && b.take())
  assert.equal(b.take(), false)
  b.give()
  assert.ok(b.take())
  b.give()
  b.give()
  b.give()
  assert.equal(b.used, 0, 'never below zero')
})

test('at the half\'s flow bound, the table holding the most flows gives up its least recently used one', () => {
  const budget = new FlowBudget(10)
  const evicted: string[] = []
  const onEvict = (f: Flow, cause: string) => evicted.push(`${f.label}:${cause}`)
  const small = new FlowTable<number>({ idleMs: 60_000, maxSize: 100, budget, onEvict })
  const big = new FlowTable<number>({ idleMs: 60_000, maxSize: 100, budget, onEvict })
  small.add(1, new Flow('s1', () => {}, 0))
  small.add(2, new Flow('s2', () => {}, 0))
  for (let i = 0; i < 50; i++) big.add(i, new Flow(`b${i}`, () => {}, 0))
  assert.equal(budget.size, 10)
  assert.equal(small.size, 2, 'the small table lost nothing to the flood')
  assert.equal(big.size, 8)
  assert.ok(evicted.every((e) => e.startsWith('b') && e.endsWith(':half')))
  // A new flow of the small table also takes its room from the big one.
  small.add(3, new Flow('s3', () => {}, 0))
  assert.equal(small.size, 3)
  assert.equal(budget.size, 10)
  big.closeAll()
  assert.equal(budget.size, 3, 'closed flows leave the budget')
  small.closeAll()
  assert.equal(budget.size, 0)
})

test('warnings: a few lines per kind and peer, a few per kind, then one summary with the count', () => {
  const clock = new FakeClock()
  const lines: string[] = []
  const w = new WarningLimiter((m) => lines.push(m), { intervalMs: 10_000, perKind: 4, perPeer: 2, clock })
  for (let i = 0; i < 1000; i++) w.warn('refused', `10.0.0.${i % 50}`, `refused peer 10.0.0.${i % 50}: wrong token`)
  assert.equal(lines.length, 4, 'four lines for the kind')
  assert.deepEqual(lines.slice(0, 2), ['refused peer 10.0.0.0: wrong token', 'refused peer 10.0.0.1: wrong token'])
  w.warn('other', '10.0.0.1', 'another kind')
  assert.equal(lines.length, 5, 'another kind has its own allowance')
  clock.advance(10_000)
  assert.equal(lines.length, 6, 'the summary comes when the interval ends, without another warning')
  assert.match(lines[5]!, /^996 more 'refused' lines in 10 s not logged \(from 46 other peers too\)$/)
  w.warn('refused', '10.0.0.9', 'next interval')
  assert.equal(lines.at(-1), 'next interval')
  // One peer alone gets perPeer lines.
  const one: string[] = []
  const w1 = new WarningLimiter((m) => one.push(m), { perKind: 10, perPeer: 2, clock })
  for (let i = 0; i < 100; i++) w1.warn('k', 'p', `line ${i}`)
  assert.deepEqual(one, ['line 0', 'line 1'])
  w1.flush()
  assert.match(one[2]!, /^98 more 'k' lines .* \(from the peers named above\)$/)
})

test('settings out of range are refused at start with E_CONFIG naming the option', () => {
  const base = { in: 'udp/listen:127.0.0.1:0', out: 'udp/broadcast:127.0.0.1:9', runtime }
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ queueMaxPackets: -5 }, /--queue-packets \(queueMaxPackets\) must be a whole number from 0 to 1048576/],
    [{ queueMaxBytes: 1.5 }, /--queue-bytes \(queueMaxBytes\)/],
    [{ token: 'x'.repeat(1025) }, /--token \(token\) is 1025 bytes long; the hello carries at most 1024/],
    [{ token: '' }, /--token \(token\) must not be empty/],
    [{ token: 'a\nb' }, /--token \(token\) must not contain control characters/],
    [{ helloTimeout: '0s' }, /--hello-timeout \(helloTimeout\) must be from 100ms to 10m, not '0s'/],
    [{ heartbeat: '50ms' }, /--heartbeat \(heartbeat\) must be from 100ms to 1h, or 0 \(no heartbeats\)/],
    [{ udpTimeout: '2h' }, /--udp-timeout \(udpTimeout\)/],
    [{ maxFlowsPerTunnel: 0 }, /--max-flows-per-tunnel/],
    [{ limits: { maxConnections: 0 } }, /--max-connections \(limits\.maxConnections\) must be a whole number from 1/],
    [{ limits: { maxBufferedBytes: 10 } }, /--max-buffered \(limits\.maxBufferedBytes\) must be a whole number from 65536/],
    [{ limits: { maxSockets: 3 } }, /limits\.maxSockets is not a limit/],
  ]
  for (const [o, message] of bad) {
    assert.throws(() => resolveOptions({ ...base, ...o } as never), (err: Error & { code?: string }) => err.code === 'E_CONFIG' && message.test(err.message), JSON.stringify(o))
  }
  const ok = resolveOptions({ ...base, heartbeat: 0, idleTimeout: 0, limits: { maxFlows: 7 } } as never)
  assert.equal(ok.heartbeatMs, 0)
  assert.equal(ok.idleTimeoutMs, 0)
  assert.equal(ok.limits.maxFlows, 7)
  assert.equal(ok.limits.maxConnections, defaultLimits(runtime.descriptorLimit?.()).maxConnections, 'the others keep their defaults')
})

test('the largest legal WebSocket message (a batch) holds the largest frame', () => {
  assert.ok(MAX_BATCH_BYTES >= MAX_ENCODED_FRAME + 4)
})
