import assert from 'node:assert/strict'
import { Deadlines, type Deadline } from '../../src/base/deadlines.ts'
import { test } from '../harness.ts'
import { FakeClock } from '../helpers/fake-clock.ts'

function item(log: string[], name: string, then?: (now: number) => void): Deadline {
  return { deadlineAt: 0, deadlineSlot: -1, onDeadline: (now) => { log.push(`${name}@${now}`); then?.(now) } }
}

test('deadlines fire in time order on one clock timer, moved and cleared ones included', () => {
  const clock = new FakeClock()
  const d = new Deadlines(clock)
  const log: string[] = []
  const items = Array.from({ length: 50 }, (_, i) => item(log, `i${i}`))
  // Scheduled in a scrambled order: 0, 37, 24, ... (a permutation of 0..49).
  items.forEach((it, i) => d.set(it, ((i * 37) % 50) * 10 + 10))
  assert.equal(clock.pending, 1, 'one clock timer for fifty deadlines')
  d.set(items[0]!, 5) // moved earlier
  d.set(items[1]!, 1000) // moved later
  d.clear(items[2]!)
  clock.advance(2000)
  const fired = log.map((l) => Number(l.split('@')[1]))
  assert.deepEqual(fired, [...fired].sort((a, b) => a - b), 'in time order')
  assert.equal(log.length, 49)
  assert.equal(log[0], 'i0@5')
  assert.equal(log.at(-1), 'i1@1000')
  assert.ok(!log.some((l) => l.startsWith('i2@')))
  assert.equal(d.size, 0)
  assert.equal(clock.pending, 0, 'no timer left when nothing is scheduled')
})

test('an item may schedule itself again from its own deadline (a heartbeat)', () => {
  const clock = new FakeClock()
  const d = new Deadlines(clock)
  const log: string[] = []
  const beat: Deadline = item(log, 'beat', (now) => {
    if (now < 40) d.set(beat, now + 10)
  })
  d.set(beat, 10)
  clock.advance(100)
  assert.deepEqual(log, ['beat@10', 'beat@20', 'beat@30', 'beat@40'])
})
