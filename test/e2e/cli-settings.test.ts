import assert from 'node:assert/strict'
import process from 'node:process'
import { test } from '../harness.ts'
import { CLI, run } from '../helpers/processes.ts'

// Issue 13 item 8 through the CLI on every runtime: a setting out of range stops the half at start
// with exit code 2 and a message naming the option, before anything listens.

const base = ['--in', 'udp/listen:127.0.0.1:0', '--out', 'udp/broadcast:127.0.0.1:9']

for (const [args, message] of [
  [['--queue-packets', '-5'], /--queue-packets \(queueMaxPackets\) must be a whole number from 0 to 1048576/],
  [['--max-connections', '0'], /--max-connections \(limits\.maxConnections\) must be a whole number from 1/],
  [['--hello-timeout', '0s'], /--hello-timeout \(helloTimeout\) must be from 100ms to 10m/],
  [['--idle-timeout', '10ms'], /--idle-timeout \(idleTimeout\) must be from 1s to 168h, or 0 \(never\)/],
] as [string[], RegExp][]) {
  test(`${args.join(' ')} exits 2 naming the option`, async (t) => {
    const r = await run([...CLI[t.runtime], ...base, ...args])
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, message)
    assert.doesNotMatch(r.stderr, /listening on/)
  })
}

test('a token over 1,024 bytes exits 2 at start instead of retrying forever', async (t) => {
  // From the environment: on the command line it would draw W_TOKEN_ON_COMMAND_LINE first.
  const r = await run([...CLI[t.runtime], '--in', 'udp/listen:127.0.0.1:0', '--out', 'tcp/client:127.0.0.1:9'], 15_000, { env: { ...process.env, EDGERELAY_TOKEN: 'x'.repeat(1025) } })
  assert.equal(r.code, 2, r.stderr)
  assert.match(r.stderr, /--token \(token\) is 1025 bytes long; the hello carries at most 1024/)
})
