import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { test, waitFor } from '../harness.ts'
import { CLI, ROOT, ownLockfile, run, startProcess, type Proc } from '../helpers/processes.ts'

// A peer that vanishes without closing (its packets silently dropped, as when a link goes down
// or a NAT forgets the connection) is found by the heartbeat and the connection replaced. Runs
// in a network namespace the test makes (docs/addresses.md#testing-addresses): lo, and a veth pair v0/v1
// with 10.9.0.1 and 10.9.0.2. The far half listens on 10.9.0.2. Both ends of the veth are in
// this one namespace, so the kernel delivers 10.9.0.2 through its local table, which a downed
// link does not affect: the local lookup is moved behind a rule that can blackhole 10.9.0.2.
// Nothing ever leaves the namespace.

function namespacesWork(): boolean {
  try {
    execFileSync('unshare', ['-rn', 'true'], { stdio: 'ignore', timeout: 5000 })
    execFileSync('nsenter', ['--version'], { stdio: 'ignore', timeout: 5000 })
    return true
  } catch {
    return false
  }
}

const SETUP = [
  'ip link set lo up',
  'ip link add v0 type veth peer name v1',
  'ip link set v0 up', 'ip link set v1 up',
  'ip addr add 10.9.0.1/24 dev v0', 'ip addr add 10.9.0.2/24 dev v1',
  'ip rule add pref 100 lookup local', 'ip rule del pref 0',
].join(' && ')

const HEARTBEAT_MS = 300

test('a far half whose packets vanish is declared dead by the heartbeat within 3.25 intervals, and the connection is replaced', async (t) => {
  const cli = CLI[t.runtime]
  const ns = startProcess(t, ['unshare', '-rn', 'sh', '-c', `${SETUP} && echo ready && exec sleep 120`])
  await ns.waitFor(/ready/)
  const inNs = (cmd: string[]) => ['nsenter', '-t', String(ns.child.pid), '-U', '-n', '--preserve-credentials', ...cmd]
  const ip = async (...args: string[]) => {
    const r = await run(inNs(['ip', ...args]), 5000)
    assert.equal(r.code, 0, `ip ${args.join(' ')}: ${r.stderr}`)
  }
  const device = startProcess(t, inNs(['node', `${ROOT}test/helpers/ns-udp.mjs`, 'echo', '7000']))
  await device.waitFor(/ready/)
  // Lockfiles of their own (ownLockfile): with fixed ports every runtime's run names the same default one.
  const hb = ['--heartbeat', `${HEARTBEAT_MS}ms`]
  const far = startProcess(t, inNs([...cli, '--in', 'tcp/server:10.9.0.2:7100', '--out', 'udp/broadcast:127.0.0.1:7000', ...hb, ...ownLockfile(t)]))
  await far.waitFor(/listening on/)
  const near = startProcess(t, inNs([...cli, '--in', 'udp/listen:127.0.0.1:7200', '--out', 'tcp/client:10.9.0.2:7100', ...hb, '--max-retry-delay', '300ms', '--connect-timeout', '1s', ...ownLockfile(t)]))
  await near.waitFor(/connected to 10\.9\.0\.2:7100/)
  const pinger = startProcess(t, inNs(['node', `${ROOT}test/helpers/ns-udp.mjs`, 'pinger', '7200', '100']))
  await pinger.waitFor(/got \d+/)
  const lastGot = (p: Proc) => Math.max(-1, ...[...p.output().matchAll(/got (\d+)/g)].map((m) => Number(m[1])))

  // The far half goes silent without closing anything.
  await ip('rule', 'add', 'pref', '10', 'to', '10.9.0.2', 'blackhole')
  const cut = Date.now()
  const dead = /silent for (\d+) ms \(no heartbeat\): connection dropped/
  await near.waitFor(dead, 5000)
  const detected = Date.now() - cut
  assert.ok(detected >= HEARTBEAT_MS * 2 && detected < HEARTBEAT_MS * 3.25 + 700, `near half noticed after ${detected} ms`)
  // The far half, which hears nothing either, drops its side too.
  await far.waitFor(dead, 5000)
  // While the path is down, reconnect attempts fail and are retried with backoff.
  await waitFor(() => near.output().split('\n').filter((l) => /retrying in/.test(l)).length >= 2, 'a failed reconnect attempt', 5000)
  assert.match(near.output(), /tcp\/client:10\.9\.0\.2:7100: (cannot connect|no connection)/)
  const stalled = lastGot(pinger)

  // The path comes back: the near half reconnects by itself and requests flow again.
  await ip('rule', 'del', 'pref', '10')
  await waitFor(() => near.output().split('\n').filter((l) => /connected to 10\.9\.0\.2:7100/.test(l)).length === 2, 'the near half to reconnect', 8000)
  await waitFor(() => lastGot(pinger) > stalled + 3, 'replies to new requests', 5000)
}, { timeout: 30_000, unavailable: namespacesWork() ? false : 'cannot create network namespaces here (unshare -rn / nsenter failed)' })
