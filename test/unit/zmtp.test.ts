import assert from 'node:assert/strict'
import { test } from '../harness.ts'
import {
  GREETING_SIZE, ZmtpReader, encodeCommand, encodeError, encodeGreeting, encodeReady, messageHeader, parseCommand,
  parseErrorReason, parseGreeting, parseProperties, plausibleSignature,
} from '../../src/protocol/zmtp.ts'

// ZMTP 3.1 bytes (rfc.zeromq.org/spec/37): the greeting, commands, properties and the frame
// reader, including the inputs a hostile peer would send.

function collect(maxBody: number) {
  const frames: { body: number[]; command: boolean; more: boolean }[] = []
  const oversize: number[] = []
  const reader = new ZmtpReader(maxBody, {
    frame: (body, command, more) => frames.push({ body: [...body], command, more }),
    oversize: (size) => oversize.push(size),
  })
  return { reader, frames, oversize }
}

const message = (body: Uint8Array) => Uint8Array.from([...messageHeader(body.length), ...body])

test('greeting: 64 bytes, version 3.1, NULL, as-server; parsed back', () => {
  const g = encodeGreeting(true)
  assert.equal(g.length, GREETING_SIZE)
  assert.deepEqual([g[0], g[9], g[10], g[11]], [0xff, 0x7f, 3, 1])
  assert.deepEqual(parseGreeting(g), { major: 3, minor: 1, mechanism: 'NULL', asServer: true })
  assert.equal(parseGreeting(encodeGreeting(false)).asServer, false)
})

test('greeting: not ZMTP, ZMTP 2 and other mechanisms are told apart', () => {
  assert.equal(plausibleSignature(new TextEncoder().encode('GET / HTTP/1.1')), false)
  assert.equal(plausibleSignature(Uint8Array.of(0xff, 0, 0)), true)
  assert.throws(() => parseGreeting(new Uint8Array(64)), { code: 'E_ZMTP_GREETING' })
  const v2 = encodeGreeting(false)
  v2[10] = 2
  assert.throws(() => parseGreeting(v2), { code: 'E_ZMTP_VERSION' })
  const curve = encodeGreeting(false)
  curve.set(new TextEncoder().encode('CURVE'), 12)
  assert.equal(parseGreeting(curve).mechanism, 'CURVE')
})

test('READY properties round-trip, names case-insensitive; ERROR reason', () => {
  const ready = encodeReady({ 'Socket-Type': 'DEALER', 'X-Edgerelay-Token': 's3cret' })
  assert.equal(ready[0], 4)
  const { name, data } = parseCommand(ready.subarray(2))
  assert.equal(name, 'READY')
  assert.deepEqual([...parseProperties(data)], [['socket-type', 'DEALER'], ['x-edgerelay-token', 's3cret']])
  const err = encodeError('E_AUTH: wrong token')
  const cmd = parseCommand(err.subarray(2))
  assert.equal(cmd.name, 'ERROR')
  assert.equal(parseErrorReason(cmd.data), 'E_AUTH: wrong token')
})

test('malformed commands and properties throw E_ZMTP_COMMAND', () => {
  assert.throws(() => parseCommand(Uint8Array.of(9, 65)), { code: 'E_ZMTP_COMMAND' })
  assert.throws(() => parseCommand(new Uint8Array(0)), { code: 'E_ZMTP_COMMAND' })
  assert.throws(() => parseProperties(Uint8Array.of(3, 65, 66)), { code: 'E_ZMTP_COMMAND' })
  assert.throws(() => parseProperties(Uint8Array.of(1, 65, 0, 0, 0, 9, 1)), { code: 'E_ZMTP_COMMAND' })
  assert.throws(() => parseProperties(Uint8Array.of(0, 0, 0, 0, 0)), { code: 'E_ZMTP_COMMAND' })
})

test('reader: short and long frames, split at every byte, several per chunk', () => {
  const big = new Uint8Array(300).fill(7)
  const stream = Uint8Array.from([...message(Uint8Array.of(1, 2, 3)), ...message(big), ...encodeCommand('PING', Uint8Array.of(0, 0))])
  assert.equal(messageHeader(300).length, 9)
  for (const step of [1, 2, 5, stream.length]) {
    const { reader, frames } = collect(1000)
    for (let i = 0; i < stream.length; i += step) reader.push(stream.subarray(i, i + step))
    assert.deepEqual(frames.map((f) => [f.body.length, f.command, f.more]), [[3, false, false], [300, false, false], [7, true, false]])
    assert.equal(reader.buffered, 0)
  }
})

test('reader: an oversized frame is skipped without buffering and the next one still arrives', () => {
  const { reader, frames, oversize } = collect(100)
  const huge = message(new Uint8Array(5000))
  const after = message(Uint8Array.of(9))
  reader.push(huge.subarray(0, 20))
  reader.push(huge.subarray(20, 3000))
  assert.ok(reader.buffered < 20, `held ${reader.buffered} bytes of a skipped frame`)
  reader.push(Uint8Array.from([...huge.subarray(3000), ...after]))
  assert.deepEqual(oversize, [5000])
  assert.deepEqual(frames.map((f) => f.body), [[9]])
})

test('reader: reserved flag bits and a 2^63 length are refused, never allocated', () => {
  assert.throws(() => collect(10).reader.push(Uint8Array.of(0x80, 1, 0)), { code: 'E_ZMTP_FRAME' })
  const { reader, oversize } = collect(10)
  reader.push(Uint8Array.of(2, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3))
  assert.equal(oversize.length, 1)
  assert.equal(reader.buffered, 0)
})
