import assert from 'node:assert/strict'
import { test } from '../harness.ts'
import { freePort } from '../helpers/free-ports.mjs'
import { CLI, run, startOnFreePort } from '../helpers/processes.ts'

// Bad input on the command line gets a clear message and a distinct exit code, on every runtime.

test('a malformed connector string exits 2 and names the bad character', async (t) => {
  const r = await run([...CLI[t.runtime], '--in', 'udp/listen:127.0.0.1#:5300', '--out', 'tcp/client:127.0.0.1:1'])
  assert.equal(r.code, 2, r.stderr)
  assert.match(r.stderr, /'#' at character 21 of 'udp\/listen:127\.0\.0\.1#:5300'/)
})

test('an unbracketed IPv6 address with a port exits 2 with a hint about brackets', async (t) => {
  const r = await run([...CLI[t.runtime], '--in', 'udp/listen:::1:5300', '--out', 'tcp/client:127.0.0.1:1'])
  assert.equal(r.code, 2, r.stderr)
  assert.match(r.stderr, /\[::1\]:5300/)
})

test('an unknown codec exits 2 and lists the codecs', async (t) => {
  const r = await run([...CLI[t.runtime], '--in', 'udp/listen:127.0.0.1:0', '--out', 'tcp/client:127.0.0.1:1', '--codec', 'json'])
  assert.equal(r.code, 2, r.stderr)
  assert.match(r.stderr, /json/)
  assert.match(r.stderr, /protobuf.*avro.*msgpack.*uhppoted/)
})

test('a port already in use exits 5 and says which address', async (t) => {
  const { port } = await startOnFreePort(t, (port) => [...CLI[t.runtime], '--in', `tcp/server:127.0.0.1:${port}`, '--out', 'udp/broadcast:127.0.0.1:9'], /listening on/)
  // Another out connector: the identical half would be refused by its lockfile first (exit 1).
  const r = await run([...CLI[t.runtime], '--in', `tcp/server:127.0.0.1:${port}`, '--out', 'udp/broadcast:127.0.0.1:10'])
  assert.equal(r.code, 5, r.stderr)
  assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${port}`))
})

test('a tunnel that cannot connect within --max-retries exits 6', async (t) => {
  const port = await freePort()
  const r = await run([...CLI[t.runtime], '--in', 'udp/listen:127.0.0.1:0', '--out', `tcp/client:127.0.0.1:${port}`, '--max-retries', '1', '--max-retry-delay', '100ms'])
  assert.equal(r.code, 6, r.stderr)
  assert.match(r.stderr, /ECONNREFUSED/)
})

test('an unknown option and a misplaced connector are configuration errors (exit 2)', async (t) => {
  const a = await run([...CLI[t.runtime], '--in', 'udp/listen:127.0.0.1:0', '--out', 'tcp/client:127.0.0.1:1', '--colour'])
  assert.equal(a.code, 2, a.stderr)
  assert.match(a.stderr, /unknown option --colour/)
  const b = await run([...CLI[t.runtime], '--in', 'udp/broadcast:127.0.0.1:9', '--out', 'tcp/client:127.0.0.1:1'])
  assert.equal(b.code, 2, b.stderr)
  assert.match(b.stderr, /udp\/broadcast cannot be used as --in/)
})
