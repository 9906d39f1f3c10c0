/**
 * docs/addresses.md in a dual-stack network namespace (docs/addresses.md#testing-addresses), on each runtime: one scenario run
 * (test/ns/scenarios/dualstack.ts, on the runtime under test) per runtime, one test per rule.
 *
 * The namespace: lo with 127.0.0.1 and 127.0.0.2, a veth pair v0/v1 (10.9.0.1 and 10.9.0.2,
 * 2001:db8:1::1 on v0), IPv6 to 2001:db8:1::2 and ::5 silently dropped (a static neighbour with a
 * MAC nobody owns), blackhole and unreachable routes, and a private hosts file with names that
 * have both A and AAAA records.
 */
import assert from 'node:assert/strict'
import { test, type TestContext } from '../harness.ts'
import { NO_DAD, netns, runScenario, skipWithoutNamespaces } from '../helpers/netns.ts'

export const SETUP = [
  NO_DAD,
  'ip link set lo up',
  'ip addr add 127.0.0.2/8 dev lo',
  'ip link add v0 type veth peer name v1', 'ip link set v0 up', 'ip link set v1 up',
  'ip addr add 10.9.0.1/24 dev v0', 'ip addr add 10.9.0.2/24 dev v1',
  'ip -6 addr add 2001:db8:1::1/64 dev v0 nodad',
  'ip -6 neigh add 2001:db8:1::2 lladdr 02:00:00:00:00:99 dev v0 nud permanent',
  'ip -6 neigh add 2001:db8:1::5 lladdr 02:00:00:00:00:99 dev v0 nud permanent',
  'ip -6 route add blackhole 2001:db8:3::/64',
  'ip -6 route add unreachable 2001:db8:4::/64',
  'ip route add blackhole 192.0.2.0/24',
  // IPv4 multicast between two ends of a veth in one namespace: the source is local.
  'for i in all default v0 v1; do echo 0 > /proc/sys/net/ipv4/conf/$i/rp_filter; echo 1 > /proc/sys/net/ipv4/conf/$i/accept_local; done',
]

export const HOSTS = `127.0.0.1 localhost
::1 localhost
2001:db8:1::2 dual.test
10.9.0.1 dual.test
2001:db8:1::5 slow6.test
192.0.2.1 slow6.test
2001:db8:3::1 fail.test
127.0.0.1 fail.test
2001:db8:4::1 fail.test
127.0.0.1 svc.test
::1 svc.test
::1 six.test
`

type Check = { ok: true; value: any } | { ok: false; error: string }
type Results = Record<string, Check>

const runs = new Map<string, Promise<Results>>()

/** The scenario's results on this runtime (run once, shared by the tests below). */
function results(t: TestContext): Promise<Results> {
  let p = runs.get(t.runtime)
  if (!p) {
    p = (async () => {
      // The namespace must outlive this test: it is torn down with the process group at exit.
      const holder: TestContext = { ...t, defer: (fn) => cleanups.push(fn) }
      const ns = await netns(holder, { setup: SETUP, hosts: HOSTS })
      try {
        return await runScenario<Results>(ns, t.runtime, 'test/ns/scenarios/dualstack.ts', [], 60_000)
      } finally {
        for (const fn of cleanups.splice(0).reverse()) await fn()
      }
    })()
    runs.set(t.runtime, p)
  }
  return p
}
const cleanups: (() => unknown)[] = []

async function value(t: TestContext, name: string): Promise<any> {
  const r = (await results(t))[name]
  assert.ok(r, `scenario has no check '${name}'`)
  if (!r.ok) assert.fail(`${name} failed inside the namespace: ${r.error}`)
  return r.value
}

const ns = (name: string, fn: (t: TestContext) => Promise<void>, timeout = 70_000) => test(name, fn, { timeout, unavailable: skipWithoutNamespaces() })

ns('C1-C3, C5: IPv6 silently dropped, IPv4 working: a tcp/client to a dual-stack name connects over IPv4 in ~250 ms, leaving one connection', async (t) => {
  const v = await value(t, 'he-v6-dropped')
  assert.match(v.events[0], /attempt-start \[2001:db8:1::2\]/, v.events.join('\n'))
  assert.match(v.events.at(-1), /winner 10\.9\.0\.1/, v.events.join('\n'))
  assert.ok(v.elapsed >= 240 && v.elapsed < 900, `connected after ${v.elapsed} ms`)
  assert.equal(v.synSent, 0, 'the IPv6 attempt was destroyed')
  assert.equal(v.established, 2, 'one connection (both of its ends are in this namespace)')
  assert.equal(v.reply, 'reply:hi')
}, 90_000)

ns('C9: tls/client, ws/client and grpc/client dial from the interface of their ::v1: prefix', async (t) => {
  const v = await value(t, 'c9-iface')
  for (const kind of ['tls', 'ws', 'grpc']) {
    assert.match(v[kind].peer, /^10\.9\.0\.2:\d+$/, `${kind}: ${JSON.stringify(v[kind])}`)
    assert.equal(v[kind].reply, `reply:${kind}`)
  }
  assert.match(v['ws-without'].peer, /^10\.9\.0\.1:\d+$/, 'the control: without the prefix the source is the server\'s own address')
})

ns('C3: IPv6 slow but working and IPv4 blackholed: connects over IPv6 at ~1 s (Node\'s own racing gives up at 250 ms)', async (t) => {
  const v = await value(t, 'he-v6-slow-v4-blackholed')
  assert.match(v.events.find((e: string) => /winner/.test(e)), /winner \[2001:db8:1::5\]/, v.events.join('\n'))
  assert.ok(v.events.some((e: string) => /attempt-fail 192\.0\.2\.1:\d+ at \d+ ms: EINVAL/.test(e)), v.events.join('\n'))
  assert.ok(v.elapsed >= 800 && v.elapsed < 2500, `connected after ${v.elapsed} ms`)
})

ns('C6, E2: every attempt failing gives one ConnectRaceError listing each address with its own errno, in attempt order', async (t) => {
  const v = await value(t, 'he-all-fail')
  assert.equal(v.isAggregate, true)
  assert.equal(v.isRaceError, true)
  assert.equal(v.code, 'E_CONNECT_FAILED')
  assert.deepEqual(v.errors.map((e: { address: string }) => e.address), v.started, 'errors are in attempt order')
  const byAddress = Object.fromEntries(v.errors.map((e: { address: string; errno: string }) => [e.address, e.errno]))
  assert.equal(byAddress['127.0.0.1'], 'ECONNREFUSED')
  assert.equal(byAddress['2001:db8:3::1'], 'EINVAL')
  // Bun's node:net reports an unreachable IPv6 host as ECONNREFUSED (docs/runtimes.md#error-codes-differ-between-runtimes).
  assert.ok(['EHOSTUNREACH', 'ENETUNREACH', ...(t.runtime === 'bun' ? ['ECONNREFUSED'] : [])].includes(byAddress['2001:db8:4::1']), JSON.stringify(byAddress))
  assert.equal(v.primary, v.errors[0].address)
  assert.match(v.message, /fail\.test:9: cannot connect: .*ECONNREFUSED/)
})

ns('C9: sourceport= binds each attempt\'s own socket; the IPv4 attempt gets port 40000 while the silent IPv6 one holds it', async (t) => {
  const v = await value(t, 'he-sourceport')
  assert.equal(v.local.port, 40000)
  assert.equal(v.remote.address, '10.9.0.1')
})

ns('C7: a cancelled race throws E_CANCELLED and leaves no socket behind', async (t) => {
  const v = await value(t, 'he-abort')
  assert.equal(v.code, 'E_CANCELLED')
  assert.equal(v.synSent, 0)
})

ns('S1, S3, S4, P7: tcp/server:*:0 is one listener on [::] (IPv6 only) and 0.0.0.0 with one port, accepting both families, also with bindv6only=1', async (t) => {
  for (const name of ['tcp-star', 'tcp-star-bindv6only']) {
    const v = await value(t, name)
    if (t.runtime === 'deno' && name === 'tcp-star') {
      // Deno's node:net cannot set IPV6_V6ONLY (docs/runtimes.md#deno-nodenet-ignores-ipv6only): its [::] socket is
      // dual-stack, 0.0.0.0 then collides, and the dual-stack socket covers both (S3).
      assert.equal(v.addresses.length, 1, JSON.stringify(v))
      assert.ok(v.warnings.some((w: string) => /W_V6ONLY_UNSUPPORTED/.test(w)))
    } else {
      assert.equal(v.addresses.length, 2, JSON.stringify(v))
    }
    assert.equal(new Set(v.addresses.map((a: string) => a.split(':').at(-1))).size, 1, 'one port')
    assert.equal(v.v4, true)
    assert.equal(v.v6, true)
  }
})

ns('P7: tcp/server:[::]:p is IPv6 only and refuses 127.0.0.1', async (t) => {
  const v = await value(t, 'tcp-v6-any')
  assert.equal(v.v6, true)
  // Deno's node:net cannot make [::] IPv6-only (docs/runtimes.md#deno-nodenet-ignores-ipv6only): there it is dual-stack.
  if (t.runtime === 'deno') assert.ok(v.v4 === true || v.v4 === 'ECONNREFUSED')
  else assert.equal(v.v4, 'ECONNREFUSED')
})

ns('F1: with --ipv4, tcp/server:*:p listens on 0.0.0.0 only and refuses IPv6', async (t) => {
  const v = await value(t, 'tcp-star-ipv4')
  assert.deepEqual(v.addresses.map((a: string) => a.replace(/:\d+$/, '')), ['0.0.0.0'])
  assert.equal(v.v4, true)
  assert.equal(v.v6, 'ECONNREFUSED')
})

ns('S2: a name with A and AAAA records is bound on every address, one port', async (t) => {
  const v = await value(t, 'tcp-name')
  assert.deepEqual(v.addresses.map((a: string) => a.replace(/:\d+$/, '')).sort(), ['127.0.0.1', '::1'])
  assert.equal(v.v4, true)
  assert.equal(v.v6, true)
})

ns('S5: when one address of a name cannot be bound, nothing stays bound and the error names it', async (t) => {
  const v = await value(t, 'tcp-all-or-nothing')
  assert.equal(v.error.code, 'E_LISTEN')
  assert.match(v.error.message, /\[::1\]:\d+/)
  assert.equal(v.probe, 'free')
})

ns('P7, S7, U8: ,ipv6only=0 gives one dual-stack [::] socket; IPv4 peers on it are named and answered as IPv4', async (t) => {
  const v = await value(t, 'dual-stack-socket')
  assert.equal(v.tcpV4, true)
  assert.match(v.peerLine, /peer 127\.0\.0\.1:\d+ connected/)
  assert.deepEqual(v.starAddresses, ['::'])
  assert.deepEqual(v.udpReply, { reply: 'reply:mapped', from: '127.0.0.1' })
  assert.match(v.udpFlow, /new flow udp 127\.0\.0\.1:\d+/)
})

ns('P4: a TCP connect to a link-local address with its zone connects over that link (Deno: a clear refusal)', async (t) => {
  const v = await value(t, 'tcp-link-local')
  if (t.runtime === 'deno') {
    assert.equal(v.errno, 'E_UNSUPPORTED_ON_RUNTIME')
    assert.match(v.message, /Deno's node:net cannot connect to a link-local address with a zone/)
  } else {
    // Bun reports the remote without its zone.
    assert.match(v.remote, /^fe80::[0-9a-f:]+(%v1)?$/)
  }
})

ns('S6: tcp/server:*:p and udp/listen:*:p run together on the same port', async (t) => {
  const v = await value(t, 'tcp-udp-same-port')
  assert.equal(v.tcp, true)
  assert.deepEqual(v.udp, { reply: 'reply:same port', from: '::1' })
})

ns('U1, U2, S4: udp/listen:* binds every local address on one port; a connect()ed client to 127.0.0.2 gets its reply from 127.0.0.2', async (t) => {
  const v = await value(t, 'udp-star')
  for (const a of ['127.0.0.1', '127.0.0.2', '10.9.0.1', '10.9.0.2', '::1', '2001:db8:1::1']) assert.ok(v.addresses.includes(a), `${a} in ${v.addresses}`)
  assert.ok(v.addresses.some((a: string) => /^fe80::.*%v0$/.test(a)), 'link-local addresses carry their zone')
  assert.equal(v.ports.length, 1)
  for (const a of ['127.0.0.2', '127.0.0.1', '10.9.0.2', '::1', '2001:db8:1::1']) {
    assert.deepEqual(v[a], { reply: `reply:to ${a}`, from: a }, `request to ${a}`)
  }
})

ns('U3: ,wildcard binds one socket per family with a warning, and documents the failure: the 127.0.0.2 reply comes from 127.0.0.1', async (t) => {
  const v = await value(t, 'udp-wildcard')
  assert.ok(v.warnings.some((w: string) => /W_UDP_WILDCARD_SOURCE/.test(w)))
  if (t.runtime === 'deno') {
    // Deno's node:dgram connect() does not make the kernel drop other sources (found here): the
    // reply gets through, from the wrong address.
    assert.ok(v.connected === undefined || v.connected.from !== '127.0.0.2', JSON.stringify(v.connected))
  } else {
    assert.equal(v.connected, undefined, 'the connect()ed client never sees the reply')
  }
  assert.equal(v.unconnected?.reply, 'reply:w2')
  assert.notEqual(v.unconnected?.from, '127.0.0.2')
})

ns('U4: new addresses get sockets (every rescan= period, or rescan() at once); vanished ones close theirs and drop their flows', async (t) => {
  const v = await value(t, 'udp-rescan')
  assert.deepEqual(v.periodic, { reply: 'reply:new', from: '10.9.0.3' })
  assert.deepEqual(v.onDemand, { reply: 'reply:now', from: '10.9.0.4' })
  assert.ok(!v.addresses.includes('10.9.0.3'))
  assert.ok(v.addresses.includes('10.9.0.4'))
  assert.equal(v.lost, 1, v.lines.join('\n'))
})

ns('MC1-MC3: IPv4 multicast in: joined on a named interface, relayed, two receivers both get it, nothing after leaving', async (t) => {
  const v = await value(t, 'mc4-in')
  // Each runtime's fastest receive path: Deno.listenDatagram's joins on Deno, Bun.udpSocket on Bun.
  assert.match(v.joined[0], { node: /\(node:dgram\)/, bun: /\(Bun\.udpSocket\)/, deno: /\(Deno\.listenDatagram\)/ }[t.runtime])
  assert.deepEqual(v.device, ['m1', 'm1'])
  assert.deepEqual(v.replies, ['reply:m1', 'reply:m1'])
  assert.equal(v.afterLeave, 0)
})

ns('MC1-MC3: IPv6 multicast in (ff15::1234 on v1)', async (t) => {
  const v = await value(t, 'mc6-in')
  assert.deepEqual(v.device, ['m1', 'm1'])
  assert.deepEqual(v.replies, ['reply:m1', 'reply:m1'])
  assert.equal(v.afterLeave, 0)
})

ns('MC4: IPv4 multicast out on a named interface with TTL 1; loopback off by default, on when asked', async (t) => {
  const v = await value(t, 'mc4-out')
  assert.deepEqual(v.v1, ['over the link'])
  assert.deepEqual(v.v0, ['loopback on'])
  assert.match(v.log[0], /group 239\.1\.2\.4:47010 on v0 \(ttl 1, loopback off/)
})

ns('MC4: IPv6 multicast out (ff15::4321 via v0, ttl=2)', async (t) => {
  const v = await value(t, 'mc6-out')
  assert.deepEqual(v.v1, ['over the link'])
  assert.deepEqual(v.v0, ['loopback on'])
  assert.match(v.log[0], /group \[ff15::4321\]:47020 on v0 \(ttl 2, loopback off/)
})

ns('MC6: a source-specific join hears only its source', async (t) => {
  const v = await value(t, 'mc4-ssm')
  assert.deepEqual(v.device, ['good'])
  assert.equal(v.otherHeard, 0, 'the half joined for another source got nothing')
  if (t.runtime === 'deno') assert.match(v.joined[0], /node:dgram \(Deno\.listenDatagram has no source-specific joins\)/)
})

ns('U6: udp/client to a name whose IPv6 address is silent moves on to IPv4 after attempt-delay, and that address wins', async (t) => {
  const v = await value(t, 'udpc-silent')
  assert.equal(v.reply, 'reply:race')
  assert.ok(v.elapsed >= 290 && v.elapsed < 2000, `answered after ${v.elapsed} ms`)
  assert.deepEqual(v.device, ['race'])
  assert.ok(v.lines.some((l: string) => /no reply yet, trying 10\.9\.0\.1:47400 too/.test(l)), v.lines.join('\n'))
  assert.ok(v.lines.some((l: string) => /10\.9\.0\.1:47400 answered; abandoned \[2001:db8:1::2\]:47400/.test(l)), v.lines.join('\n'))
})

ns('U6: udp/client passes over an unreachable or blackholed address at once, long before attempt-delay (2 s)', async (t) => {
  for (const [name, bad, good] of [['udpc-unreachable', '2001:db8:4::1', '10.9.0.1:47401'], ['udpc-blackhole', '2001:db8:3::1', '127.0.0.1:47402']] as const) {
    const v = await value(t, name)
    assert.equal(v.reply, 'reply:race', name)
    assert.ok(v.elapsed < 1500, `${name}: answered after ${v.elapsed} ms, attempt-delay is 2000`)
    assert.ok(v.lines.some((l: string) => l.includes(`${good} answered; abandoned [${bad}]`)), `${name}:\n${v.lines.join('\n')}`)
  }
})

ns('U7: udp/p2p:* with a dual-stack peer binds both families and talks IPv6 (Deno: one dual-stack [::] socket)', async (t) => {
  const v = await value(t, 'p2p-star-dual')
  assert.equal(v.reply, 'reply:p2p')
  // Deno's Deno.listenDatagram cannot make [::] IPv6-only (docs/runtimes.md#deno-nodenet-ignores-ipv6only), so 0.0.0.0 collides and [::] covers both.
  const both = t.runtime === 'deno' ? ['::'] : ['::', '0.0.0.0']
  assert.deepEqual(v.far, both, v.farLines.join('\n'))
  assert.deepEqual(v.near, both, v.nearLines.join('\n'))
  assert.ok(v.nearLines.some((l: string) => /sending to peer \[::1\]:47200 from \[::\]:47201/.test(l)), v.nearLines.join('\n'))
  assert.ok(!v.nearLines.some((l: string) => /W_FAMILY_FILTERED/.test(l)), v.nearLines.join('\n'))
})

ns('U7: udp/p2p:* binds only the peer\'s family: 0.0.0.0 for an IPv4 peer, [::] for an IPv6-only one', async (t) => {
  const v4 = await value(t, 'p2p-star-v4peer')
  assert.equal(v4.reply, 'reply:p2p')
  assert.deepEqual(v4.near, ['0.0.0.0'])
  const v6 = await value(t, 'p2p-star-v6peer')
  assert.equal(v6.reply, 'reply:p2p')
  assert.deepEqual(v6.near, ['::'])
  assert.ok(v6.nearLines.some((l: string) => /sending to peer \[::1\]:47205 from \[::\]:47204/.test(l)), v6.nearLines.join('\n'))
})

ns('U7: udp/p2p bound to IPv4 only with a peer of both families warns W_FAMILY_FILTERED and talks IPv4', async (t) => {
  const v = await value(t, 'p2p-v4-dual-peer')
  assert.equal(v.reply, 'reply:p2p')
  assert.ok(v.nearLines.some((l: string) => /W_FAMILY_FILTERED udp\/p2p:0\.0\.0\.0:47206,peer=svc\.test:47207: no local IPv6 address is bound, so the peer's \[::1\]:47207 cannot be used; talking to 127\.0\.0\.1:47207/.test(l)), v.nearLines.join('\n'))
  assert.ok(v.nearLines.some((l: string) => /sending to peer 127\.0\.0\.1:47207 from 0\.0\.0\.0:47206/.test(l)), v.nearLines.join('\n'))
})

ns('U7: udp/p2p bound to IPv4 only with an IPv6-only peer (a name or a literal) is E_FAMILY_MISMATCH and binds nothing', async (t) => {
  const v = await value(t, 'p2p-v4-v6peer')
  assert.equal(v.name.code, 'E_FAMILY_MISMATCH', JSON.stringify(v.name))
  assert.match(v.name.message, /only IPv4 \(10\.9\.0\.1\) and the peer only IPv6 \(\[::1\]\)/)
  assert.equal(v.literal.code, 'E_FAMILY_MISMATCH', JSON.stringify(v.literal))
  assert.equal(v.probe, 'free')
})
