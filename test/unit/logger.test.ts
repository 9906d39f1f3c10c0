import assert from 'node:assert/strict'
import { test } from '../harness.ts'
import { createLogger, type LogRecord } from '../../src/base/logger.ts'
import { DropReporter, Stats } from '../../src/base/stats.ts'

function collect(format: 'text' | 'json', level: 'debug' | 'info' = 'info') {
  const lines: string[] = []
  const recs: LogRecord[] = []
  const log = createLogger(level, (_l, line, rec) => {
    lines.push(line)
    recs.push(rec)
  }, '', format)
  return { log, lines, recs }
}

test('text lines keep their format: time, padded level, tag, message', () => {
  const { log, lines } = collect('text')
  log.child('tcp/server').warn('peer 127.0.0.1:5 disconnected', { peer: '127.0.0.1:5', code: 'E_HELLO' })
  assert.match(lines[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARN {2}tcp\/server peer 127\.0\.0\.1:5 disconnected$/)
})

test('json lines: one object per line, keys in a fixed order, absent fields null, a multi-line message still one line', () => {
  const { log, lines, recs } = collect('json', 'debug')
  log.info('plain')
  log.child('udp/listen').error('two\nlines "quoted"', { code: 'E_X', peer: '[::1]:53' })
  log.debug('low')
  assert.equal(lines.length, 3)
  for (const line of lines) assert.ok(!line.includes('\n'))
  assert.deepEqual(Object.keys(JSON.parse(lines[0]!)), ['time', 'level', 'connector', 'code', 'peer', 'message'])
  assert.deepEqual({ ...JSON.parse(lines[0]!), time: 'T' }, { time: 'T', level: 'info', connector: null, code: null, peer: null, message: 'plain' })
  assert.deepEqual({ ...JSON.parse(lines[1]!), time: 'T' }, { time: 'T', level: 'error', connector: 'udp/listen', code: 'E_X', peer: '[::1]:53', message: 'two\nlines "quoted"' })
  assert.deepEqual(JSON.parse(lines[1]!), recs[1])
})

test('levels below the chosen one are not written in either format', () => {
  const { log, lines } = collect('json', 'info')
  log.debug('hidden')
  log.info('shown')
  assert.deepEqual(lines.map((l) => JSON.parse(l).message), ['shown'])
})

test('a drop is logged with its counter as the code', () => {
  const { log, recs } = collect('json')
  const stats = new Stats()
  new DropReporter(stats, (m, f) => log.warn(m, f)).drop('oversize', 'a 70000-byte datagram')
  assert.equal(recs[0]!.code, 'dropped.oversize')
  assert.equal(stats.get('dropped.oversize'), 1)
})
