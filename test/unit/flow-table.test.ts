import assert from 'node:assert/strict'
import { Flow } from '../../src/core/flow.ts'
import { FlowTable } from '../../src/core/flow-table.ts'
import { test } from '../harness.ts'

const flow = (label: string, now = 0) => new Flow(label, () => {}, now)

test('a full table evicts the least recently used flow, not the oldest one', () => {
  const evicted: string[] = []
  const table = new FlowTable<string>({ idleMs: 60_000, maxSize: 3, onEvict: (f) => evicted.push(f.label) })
  t3(table)
  table.get('a')!.touch() // a is the oldest but was just used
  table.add('d', flow('d'))
  assert.deepEqual(evicted, ['b'])
  table.get('c')!.reply(1, new Uint8Array(1)) // a reply is a use too
  table.add('e', flow('e'))
  assert.deepEqual(evicted, ['b', 'a'])
  assert.deepEqual(table.all().map((f) => f.label).sort(), ['c', 'd', 'e'])
  table.closeAll()
})

function t3(table: FlowTable<string>): void {
  for (const k of ['a', 'b', 'c']) table.add(k, flow(k))
}

test('a flood of new flows never evicts a flow that keeps being used', () => {
  const evicted: string[] = []
  const table = new FlowTable<string>({ idleMs: 60_000, maxSize: 16, onEvict: (f) => evicted.push(f.label) })
  table.add('active', flow('active'))
  for (let i = 0; i < 1000; i++) {
    table.add(`new${i}`, flow(`new${i}`))
    if (i % 10 === 0) table.get('active')!.touch()
  }
  assert.ok(table.get('active'), 'the active flow is still there')
  assert.ok(!evicted.includes('active'))
  assert.equal(evicted.length, 1000 + 1 - 16, 'every other flow beyond the bound was evicted, one per add')
  assert.equal(table.size, 16)
  table.closeAll()
})

test('closing a flow removes it from its table and releases its out state once', () => {
  const table = new FlowTable<string>({ idleMs: 1000 })
  const f = flow('x')
  let released = 0
  f.out = { release: () => released++ }
  table.add('x', f)
  f.close()
  f.close()
  assert.equal(table.get('x'), undefined)
  assert.equal(released, 1)
  assert.equal(f.out, undefined)
})

test('the idle sweep closes exactly the flows idle for the idle time', () => {
  const table = new FlowTable<string>({ idleMs: 1000 })
  const old = flow('old', 0)
  const young = flow('young', 500)
  table.add('old', old)
  table.add('young', young)
  table.sweep(1000)
  assert.ok(old.closed)
  assert.ok(!young.closed)
  table.sweep(1499)
  assert.ok(!young.closed)
  table.sweep(1500)
  assert.ok(young.closed)
})
