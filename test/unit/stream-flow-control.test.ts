/**
 * Stream flow control (src/core/streams/flow-control.ts) on a fake clock: credit is granted back
 * as the reader consumes, a peer that sends past its credit is caught, the window doubles only
 * when the bandwidth-delay product outgrew it, and a connection's streams share one budget.
 */
import assert from 'node:assert/strict'
import { INITIAL_WINDOW, MAX_CREDIT, MAX_STREAM_WINDOW, MIN_WINDOW, ReceiveWindow, SendCredit, WindowBudget } from '../../src/core/streams/flow-control.ts'
import { test } from '../harness.ts'
import { FakeClock } from '../helpers/fake-clock.ts'

test('credit comes back once a quarter of the window is consumed, never before', () => {
  const clock = new FakeClock()
  const w = new ReceiveWindow({ budget: new WindowBudget(), clock, rtt: 0 })
  assert.equal(w.window, INITIAL_WINDOW)
  assert.equal(w.outstanding, INITIAL_WINDOW)
  assert.ok(w.received(INITIAL_WINDOW / 4 - 1))
  assert.equal(w.consumed(INITIAL_WINDOW / 4 - 1), 0)
  assert.ok(w.received(1))
  assert.equal(w.consumed(1), INITIAL_WINDOW / 4)
  assert.equal(w.outstanding, INITIAL_WINDOW)
})

test('a peer that sends more than its credit is refused; what it may send is exactly the window', () => {
  const w = new ReceiveWindow({ budget: new WindowBudget(), clock: new FakeClock(), rtt: 0 })
  assert.ok(w.received(INITIAL_WINDOW))
  assert.equal(w.outstanding, 0)
  assert.equal(w.received(1), false)
  // Consumed but not yet granted: still no credit for the peer.
  assert.equal(w.consumed(1000), 0)
  assert.equal(w.received(1), false)
})

test('the window doubles when a quarter was consumed in less than one round trip, up to the cap', () => {
  const clock = new FakeClock()
  const w = new ReceiveWindow({ budget: new WindowBudget(1 << 30), clock, rtt: 10 })
  let grants = 0
  while (w.window < MAX_STREAM_WINDOW && grants < 100) {
    const before = w.window
    clock.advance(1) // a quarter of the window every ms against a 10 ms round trip: window-limited
    assert.ok(w.received(before / 4))
    const grant = w.consumed(before / 4)
    assert.equal(grant, before / 4 + before, 'the grant carries the growth')
    assert.equal(w.window, before * 2)
    grants++
  }
  assert.equal(w.window, MAX_STREAM_WINDOW)
  clock.advance(1)
  assert.ok(w.received(w.window / 4))
  assert.equal(w.consumed(w.window / 4), MAX_STREAM_WINDOW / 4, 'no growth past the cap')
})

test('the window stays when the reader is the bottleneck (slower than the round trip allows)', () => {
  const clock = new FakeClock()
  const w = new ReceiveWindow({ budget: new WindowBudget(), clock, rtt: 10 })
  for (let i = 0; i < 10; i++) {
    clock.advance(20) // a quarter of the window per 20 ms: 4·¼·10 ms = 10 ms < 20 ms
    assert.ok(w.received(INITIAL_WINDOW / 4))
    assert.equal(w.consumed(INITIAL_WINDOW / 4), INITIAL_WINDOW / 4)
  }
  assert.equal(w.window, INITIAL_WINDOW)
})

test('no growth while the round trip is unknown', () => {
  const clock = new FakeClock()
  const w = new ReceiveWindow({ budget: new WindowBudget(), clock, rtt: 0 })
  assert.ok(w.received(INITIAL_WINDOW / 2))
  assert.equal(w.consumed(INITIAL_WINDOW / 2), INITIAL_WINDOW / 2)
  assert.equal(w.window, INITIAL_WINDOW)
})

test("a connection's budget caps the sum of windows; a stream still gets MIN_WINDOW, and a closed one gives its share back", () => {
  const clock = new FakeClock()
  const budget = new WindowBudget(INITIAL_WINDOW * 2 + 1000)
  const a = new ReceiveWindow({ budget: budget, clock, rtt: 10 })
  const b = new ReceiveWindow({ budget: budget, clock, rtt: 10 })
  const c = new ReceiveWindow({ budget: budget, clock, rtt: 10 })
  assert.equal(a.window, INITIAL_WINDOW)
  assert.equal(b.window, INITIAL_WINDOW)
  assert.equal(c.window, MIN_WINDOW, 'the budget is spent: the floor')
  // a would double, but only 1000 bytes of budget are left... and c took them (overdraw of the floor).
  clock.advance(1)
  assert.ok(a.received(INITIAL_WINDOW / 4))
  a.consumed(INITIAL_WINDOW / 4)
  assert.equal(a.window, INITIAL_WINDOW)
  b.release()
  clock.advance(1)
  assert.ok(a.received(INITIAL_WINDOW / 4))
  a.consumed(INITIAL_WINDOW / 4)
  assert.ok(a.window > INITIAL_WINDOW, 'b gave its window back, so a grows')
  assert.ok(budget.reserved <= budget.max + MIN_WINDOW)
})

test('send credit: window updates add up; zero and past 2^31-1 are refused', () => {
  const s = new SendCredit(INITIAL_WINDOW)
  assert.ok(s.grant(1000))
  assert.equal(s.credit, INITIAL_WINDOW + 1000)
  assert.equal(s.grant(0), false)
  assert.equal(s.grant(MAX_CREDIT), false)
  assert.equal(s.credit, INITIAL_WINDOW + 1000)
  assert.ok(s.grant(MAX_CREDIT - s.credit))
  assert.equal(s.grant(1), false)
})
