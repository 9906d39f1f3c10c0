import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from '../harness.ts'
import { CLI, cleanExit, ownLockfile, run, startProcess } from '../helpers/processes.ts'
import { withFreePorts } from '../helpers/with-free-ports.ts'
import { echoDevice, roundTrip, text } from '../helpers/udp.ts'

// The CLI with several --in and --out and --route rules, from the command line and from a TOML
// list, and what it refuses before anything binds.

/** Two devices, a half listening on two ports with a route each; each port's request reaches its own device. */
async function twoRoutes(t: TestContext, args: (ports: number[], devices: number[]) => string[]) {
  const devices = [await echoDevice(t), await echoDevice(t)]
  const { proc, ports } = await withFreePorts(t, 2, async (ports, t) => {
    const proc = startProcess(t, [...CLI[t.runtime], ...args(ports, devices.map((d) => d.port)), ...ownLockfile(t)])
    await proc.waitFor(new RegExp(`listening on 127\\.0\\.0\\.1:${ports[1]}`), 15_000)
    return { proc, ports }
  })
  assert.equal(await roundTrip(t, ports[0]!, 'one'), 'reply0:one')
  assert.equal(await roundTrip(t, ports[1]!, 'two'), 'reply0:two')
  assert.deepEqual(devices.map((d) => d.received.map((r) => text(r.data))), [['one'], ['two']])
  return proc
}

test('CLI: --in and --out given twice with --route in=…,out=…: each listener\'s requests reach their own --out', async (t) => {
  const proc = await twoRoutes(t, ([a, b], [d1, d2]) => [
    '--in', `udp/listen:127.0.0.1:${a}`, '--in', `udp/listen:127.0.0.1:${b}`,
    '--out', `udp/broadcast:127.0.0.1:${d1}`, '--out', `udp/broadcast:127.0.0.1:${d2}`,
    '--route', 'in=1,out=1', '--route', 'in=2,out=2',
  ])
  assert.ok(cleanExit(await proc.stop(), proc.output(), t.runtime), proc.output())
}, { timeout: 40_000 })

test('CLI: in, out and route as TOML lists', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'edgerelay-routes-'))
  t.defer(() => rmSync(dir, { recursive: true, force: true }))
  const proc = await twoRoutes(t, ([a, b], [d1, d2]) => {
    const file = join(dir, `half-${a}.toml`)
    writeFileSync(file, [
      '[relay]',
      `in = ["udp/listen:127.0.0.1:${a}", "udp/listen:127.0.0.1:${b}"]`,
      `out = ["udp/broadcast:127.0.0.1:${d1}", "udp/broadcast:127.0.0.1:${d2}"]`,
      'route = ["in=1,out=1", "in=2,out=2"]',
      'codec = "protobuf"',
      '',
    ].join('\n'))
    return ['--config', file]
  })
  assert.ok(cleanExit(await proc.stop(), proc.output(), t.runtime), proc.output())
}, { timeout: 40_000 })

test('CLI: two --in on one address, several --out without --route, an ambiguous --route: exit 2 before anything binds', async (t) => {
  const cli = CLI[t.runtime]
  const dup = await run([...cli, '--in', 'udp/listen:127.0.0.1:5300', '--in', 'udp/listen:127.0.0.1:5300', '--out', 'udp/event:127.0.0.1:9'])
  assert.equal(dup.code, 2, dup.stderr)
  assert.match(dup.stderr, /udp\/listen:127\.0\.0\.1:5300 listens on udp 127\.0\.0\.1:5300, as command line \(udp\/listen:127\.0\.0\.1:5300\) already does \[E_DUPLICATE_LISTEN\]/)
  const noRoute = await run([...cli, '--in', 'udp/listen:127.0.0.1:0', '--out', 'udp/event:127.0.0.1:9', '--out', 'udp/event:127.0.0.1:10'])
  assert.equal(noRoute.code, 2, noRoute.stderr)
  assert.match(noRoute.stderr, /say which packets go where with --route/)
  const ambiguous = await run([...cli, '--in', 'udp/listen:127.0.0.1:0', '--out', 'udp/event:127.0.0.1:9', '--out', 'udp/event:127.0.0.1:10', '--route', 'out=1', '--route', 'out=2'])
  assert.equal(ambiguous.code, 2, ambiguous.stderr)
  assert.match(ambiguous.stderr, /--route out=1 and --route out=2 are ambiguous/)
}, { timeout: 40_000 })
