import assert from 'node:assert/strict'
import net from 'node:net'
import { test, waitFor } from '../harness.ts'
import { CLI, run, startOnFreePort, startProcess } from '../helpers/processes.ts'

const KEYS = ['time', 'level', 'connector', 'code', 'peer', 'message']

/** Every line of `output` as a JSON log record; fails on a line that is not one. */
function records(output: string): Record<string, string | null>[] {
  return output.split('\n').filter(Boolean).map((line) => {
    let r: Record<string, string | null>
    try {
      r = JSON.parse(line)
    } catch {
      throw new Error(`not a JSON line: ${line}`)
    }
    assert.deepEqual(Object.keys(r), KEYS, line)
    assert.match(r.time!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    return r
  })
}

test('--log-format json: one JSON object per line with time, level, connector, code, peer and message, the CLI\'s own lines too', async (t) => {
  const cli = CLI[t.runtime]
  const { proc: far, port } = await startOnFreePort(t, (port) => [...cli, '--in', `tcp/server:127.0.0.1:${port}`, '--out', 'udp/broadcast:127.0.0.1:9', '--log-format', 'json'], /listening on/)
  const near = startProcess(t, [...cli, '--in', 'udp/listen:127.0.0.1:0', '--out', `tcp/client:127.0.0.1:${port}`])
  await near.waitFor(/connected to/)
  await far.waitFor(/"peer [^"]+ connected"/)
  // A client that is not edgerelay: its garbage fails the hello, logged with its address and the error code.
  const raw = net.connect(port, '127.0.0.1')
  t.defer(() => raw.destroy())
  await new Promise((resolve) => raw.once('connect', resolve))
  raw.write('GET / HTTP/1.0\r\n\r\n')
  const local = `127.0.0.1:${raw.localPort}`
  await waitFor(() => far.output().includes(`"peer":"${local}"`), `a line naming ${local}`, 10_000)
  far.child.kill('SIGTERM')
  await far.exited
  const lines = records(far.output())
  const listening = lines.find((r) => r.message!.startsWith('listening on'))
  assert.equal(listening?.level, 'info')
  assert.equal(listening?.connector, 'tcp/server')
  const connected = lines.find((r) => /^peer .* connected$/.test(r.message!))
  assert.ok(connected?.peer, 'the connected line names its peer')
  const refused = lines.find((r) => r.peer === local)!
  assert.equal(refused.level, 'warn')
  assert.match(refused.code ?? '', /^E_[A-Z_]+$/, JSON.stringify(refused))
  const shutdown = lines.find((r) => r.message === 'SIGTERM received, shutting down')
  assert.deepEqual([shutdown?.level, shutdown?.connector], ['info', null])
  // The near half kept the default: text.
  assert.match(near.output(), /^\d{4}-\d\d-\d\dT\S+ INFO {2}tcp\/client connected to /m)
}, { timeout: 40_000 })

test('--log-format json reports a start-up failure as a JSON line with its code; an unknown format is refused', async (t) => {
  const busy = net.createServer().listen(0, '127.0.0.1')
  await new Promise((resolve) => busy.once('listening', resolve))
  t.defer(() => new Promise((resolve) => busy.close(resolve)))
  const r = await run([...CLI[t.runtime], '--in', `tcp/server:127.0.0.1:${(busy.address() as net.AddressInfo).port}`, '--out', 'udp/broadcast:127.0.0.1:9', '--log-format=json'])
  assert.equal(r.code, 5, r.stderr)
  const last = records(r.stderr).pop()!
  assert.deepEqual([last.level, last.connector, last.code], ['error', null, 'E_LISTEN'])
  const bad = await run([...CLI[t.runtime], '--in', 'udp/listen:127.0.0.1:0', '--out', 'udp/broadcast:127.0.0.1:9', '--log-format', 'xml'])
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /--log-format must be text or json, not 'xml'/)
}, { timeout: 30_000 })
