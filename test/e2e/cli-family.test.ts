import assert from 'node:assert/strict'
import { test } from '../harness.ts'
import { CLI, run } from '../helpers/processes.ts'

// docs/addresses.md E3, F3, M2: family contradictions stop the CLI at start with exit code 3 and a clear
// message, on every runtime, before anything binds or dials.

test('F3: --ipv4 with an IPv6 literal exits 3 with E_FAMILY_CONFLICT', async (t) => {
  const r = await run([...CLI[t.runtime], '--in', 'udp/listen:127.0.0.1:0', '--out', 'tcp/client:[::1]:12345', '--ipv4'])
  assert.equal(r.code, 3, r.stderr)
  assert.match(r.stderr, /IPv6 address \[::1\] cannot be used with --ipv4 \[E_FAMILY_CONFLICT\]/)
})

test('M2: a local bind of one family with a remote of only the other exits 3 with E_FAMILY_MISMATCH', async (t) => {
  const r = await run([...CLI[t.runtime], '--in', 'udp/listen:127.0.0.1:0', '--out', 'tcp/client:[::1]:12345,bind=127.0.0.1'])
  assert.equal(r.code, 3, r.stderr)
  assert.match(r.stderr, /local bind=127\.0\.0\.1 has no address of the remote's family .*\[E_FAMILY_MISMATCH\]/)
})

test('U7: udp/p2p bound to IPv4 only with an IPv6-only peer exits 3 with E_FAMILY_MISMATCH, before anything binds', async (t) => {
  const r = await run([...CLI[t.runtime], '--in', 'udp/p2p:127.0.0.1:0,peer=[::1]:12345', '--out', 'udp/event:127.0.0.1:9'])
  assert.equal(r.code, 3, r.stderr)
  assert.match(r.stderr, /the local address has only IPv4 \(127\.0\.0\.1\) and the peer only IPv6 \(\[::1\]\).*\[E_FAMILY_MISMATCH\]/)
})
