/**
 * Link-local peers and zones (docs/addresses.md U1, U2;
 * docs/runtimes.md#deno-loses-the-zone-of-link-local-addresses): the relay's namespace A
 * has two links with link-local routes, the second preferred (metric 1), so a reply to a
 * link-local address that lost its zone leaves through the wrong link. A client in namespace B,
 * at the far end of the first link, asks the relay's link-local address. udp/listen:* binds each
 * link-local address with its zone, so the reply leaves on the link the request came in on, on
 * every runtime, although Deno drops the zone of received addresses; the flow keeps the zone.
 * An explicit [::] socket shows the underlying problem on Deno.
 */
import assert from 'node:assert/strict'
import { test } from '../harness.ts'
import { NO_DAD, netns, skipWithoutNamespaces } from '../helpers/netns.ts'
import { CLI, ROOT, ownLockfile } from '../helpers/processes.ts'

const SETUP = [
  NO_DAD,
  'ip link set lo up',
  'ip link add a0 type veth peer name b0',
  'ip link add a2 type veth peer name a3',
  'ip link set a0 up', 'ip link set a2 up', 'ip link set a3 up',
  // Namespace B: the client's, holding b0 (it ends by itself; the test also kills it).
  `unshare -n sh -c '${NO_DAD}; exec sleep 120' & B=$!; echo "B=$B"`,
  // B is ready once its shell has become the holder (a bounded wait, 5 s at most).
  'for i in $(seq 500); do [ "$(cat /proc/$B/comm)" = sleep ] && break; sleep 0.01; done',
  'ip link set b0 netns $B',
  'nsenter -t $B -n sh -c "ip link set lo up && ip link set b0 up"',
  // Link-local destinations without a zone go out a2, the wrong link.
  'ip -6 route add fe80::/64 dev a2 metric 1',
]

const linkLocal = (text: string) => /inet6 (fe80::[0-9a-f:]+)\/64/.exec(text)?.[1]

test('U1, U2 and Deno\'s lost zone: a link-local client on one of two links gets its reply on that link; the flow keeps the zone', async (t) => {
  const ns = await netns(t, { setup: SETUP })
  const bPid = Number(/B=(\d+)/.exec(ns.setupOutput())?.[1])
  assert.ok(bPid > 0, ns.setupOutput())
  t.defer(() => {
    try {
      process.kill(bPid, 'SIGKILL')
    } catch {
      // gone already
    }
  })
  const inB = (cmd: string[]) => ['nsenter', '-t', String(bPid), '-U', '-n', '--preserve-credentials', `--wd=${ROOT}`, ...cmd]
  const a0 = linkLocal((await ns.run(['ip', '-6', 'addr', 'show', 'dev', 'a0'])).stdout)
  const { run } = await import('../helpers/processes.ts')
  const b0 = linkLocal((await run(inB(['ip', '-6', 'addr', 'show', 'dev', 'b0']))).stdout)
  assert.ok(a0 && b0, 'both ends have link-local addresses')

  const echo = ns.start(['node', `${ROOT}test/ns/scenarios/peer.mjs`, 'echo', '127.0.0.1', '47200'])
  await echo.waitFor(/ready/)
  // Lockfiles of their own: the ports are fixed, so the default lockfile (named after the
  // arguments) is the same on every runtime's run, and a Deno half keeps one a killed half left.
  const perAddress = ns.start([...CLI[t.runtime], '--in', 'udp/listen:*:47201', '--out', 'udp/broadcast:127.0.0.1:47200', '--debug', ...ownLockfile(t)])
  const wildcard = ns.start([...CLI[t.runtime], '--in', 'udp/listen:[::]:47202', '--out', 'udp/broadcast:127.0.0.1:47200', '--debug', ...ownLockfile(t)])
  await perAddress.waitFor(/listening on port 47201/)
  await wildcard.waitFor(/listening on/)

  const ask = async (port: number, text: string) => {
    const r = await run(inB(['node', `${ROOT}test/ns/scenarios/peer.mjs`, 'ask', `${b0}%b0`, `${a0}%b0`, String(port), text]))
    return JSON.parse(r.stdout.trim() || 'null')
  }
  const got = await ask(47201, 'zone')
  assert.deepEqual(got, { reply: 'reply:zone', from: `${a0}%b0` })
  assert.match(perAddress.output(), new RegExp(`new flow udp ${b0}%a0:\\d+ on \\[${a0}%a0\\]:47201`))

  const viaWildcard = await ask(47202, 'lost?')
  if (t.runtime === 'deno') assert.equal(viaWildcard, null, 'Deno drops the zone: the reply leaves through a2')
  else assert.deepEqual(viaWildcard, { reply: 'reply:lost?', from: `${a0}%b0` })
}, { timeout: 30_000, unavailable: skipWithoutNamespaces() })
