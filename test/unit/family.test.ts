/**
 * docs/addresses.md F1–F4 (forcing a family), M1–M4 (local bind vs remote), C9/C10 (local bind
 * per attempt, literals never race), S8, U1 (address enumeration), MC5 (multicast settings) and
 * E3 (exit codes), with a fake runtime: a resolver spy, fixed interfaces, a fake connectTcp.
 */
import assert from 'node:assert/strict'
import type { Family, InterfaceAddress, ResolvedAddress, Runtime, StreamConn, TcpConnectOptions } from '../../src/ports/runtime.ts'
import { exitCodeFor } from '../../src/cli/exit-codes.ts'
import { RelayError } from '../../src/base/errors.ts'
import { parseConnector } from '../../src/net/connector-string.ts'
import { ConnectRaceError, raceOptionsOf, raceTcp } from '../../src/net/dial.ts'
import { filterForLocal, localBindOf, preflight } from '../../src/net/family.ts'
import { localUnicastAddresses } from '../../src/net/local-addresses.ts'
import { checkNotMulticastOptions, isMulticastHost, multicastPlan } from '../../src/net/multicast.ts'
import { resolveConnect, resolveListen } from '../../src/net/resolve.ts'
import { test } from '../harness.ts'

const IFACES: InterfaceAddress[] = [
  { name: 'lo', address: '127.0.0.1', family: 4, internal: true, prefixLength: 8 },
  { name: 'lo', address: '::1', family: 6, internal: true, prefixLength: 128, scopeId: 0 },
  { name: 'v0', address: '10.9.0.1', family: 4, internal: false, prefixLength: 24 },
  { name: 'v0', address: '2001:db8:1::1', family: 6, internal: false, prefixLength: 64, scopeId: 0 },
  { name: 'v0', address: 'fe80::1', family: 6, internal: false, prefixLength: 64, scopeId: 3 },
  { name: 'v1', address: 'fe80::2', family: 6, internal: false, prefixLength: 64, scopeId: 2 },
  { name: 'v4only', address: '10.8.0.1', family: 4, internal: false, prefixLength: 24 },
]
const INDEX: Record<string, number> = { lo: 1, v1: 2, v0: 3, v4only: 4 }

interface Fake extends Runtime {
  lookups: { name: string; family?: Family }[]
  connects: TcpConnectOptions[]
}

function fakeRuntime(answers: Record<string, ResolvedAddress[]> = {}): Fake {
  const rt: Fake = {
    name: 'node',
    capabilities: { udpIpv6Only: true, keepsZoneOnReceive: true, inheritsSockets: false, startTls: false, reusePort: { tcp: false, udp: false } },
    lookups: [],
    connects: [],
    bindUdp: () => Promise.reject(new Error('not in unit tests')),
    listenTcp: () => Promise.reject(new Error('not in unit tests')),
    connectTcp(opts) {
      rt.connects.push(opts)
      return Promise.resolve({ remote: { address: opts.address, port: opts.port, family: opts.address.includes(':') ? 6 : 4 } } as StreamConn)
    },
    async lookup(name, family) {
      rt.lookups.push({ name, family })
      return (answers[name] ?? []).filter((a) => family === undefined || a.family === family)
    },
    networkInterfaces: () => IFACES,
    interfaceIndex: (name) => INDEX[name],
  }
  return rt
}

const v4 = (address: string): ResolvedAddress => ({ address, family: 4 })
const v6 = (address: string): ResolvedAddress => ({ address, family: 6 })
const spec = (text: string) => parseConnector(text)
const ep = (text: string) => parseConnector(text).endpoint!

function throwsCode(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.equal((err as RelayError).code, code, (err as Error).message)
    if (message) assert.match((err as Error).message, message)
    return true
  })
}

async function rejectsCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.equal((err as RelayError).code, code, (err as Error).message)
    return true
  })
}

// --- F ---

test('F1: --ipv4/--ipv6 restrict wildcard expansion and the resolver family hint', async () => {
  const rt = fakeRuntime({ 'dual.test': [v6('::1'), v4('127.0.0.1')] })
  assert.deepEqual(await resolveListen(rt, ep('tcp/server:*:80'), 't', 6), [v6('::')])
  assert.deepEqual(await resolveListen(rt, ep('tcp/server:*:80'), 't', 4), [v4('0.0.0.0')])
  assert.deepEqual(await resolveListen(rt, ep('tcp/server:*:80'), 't'), [v6('::'), v4('0.0.0.0')])
  assert.deepEqual(await resolveConnect(rt, ep('tcp/client:dual.test:80'), 't', 4), [v4('127.0.0.1')])
  assert.deepEqual(rt.lookups.at(-1), { name: 'dual.test', family: 4 })
  // udp/listen:* enumerates addresses: only the forced family.
  assert.deepEqual(localUnicastAddresses(rt, [4], 't').addresses.map((a) => a.address), ['127.0.0.1', '10.9.0.1', '10.8.0.1'])
})

test('F2: the connector\'s own digit restricts it when no global family is given', async () => {
  const rt = fakeRuntime({ 'dual.test': [v6('::1'), v4('127.0.0.1')] })
  assert.deepEqual(await resolveConnect(rt, ep('tcp6/client:dual.test:80'), 't'), [v6('::1')])
  assert.deepEqual(rt.lookups.at(-1), { name: 'dual.test', family: 6 })
  assert.deepEqual(await resolveListen(rt, ep('udp4/listen:*:80'), 't'), [v4('0.0.0.0')])
})

test('F3: contradictions fail at start with E_FAMILY_CONFLICT', () => {
  const rt = fakeRuntime()
  throwsCode(() => preflight(rt, spec('tcp6/client:relay.test:80'), 4, 'out'), 'E_FAMILY_CONFLICT', /IPv6 only.*--ipv4/)
  throwsCode(() => preflight(rt, spec('tcp/client:[::1]:80'), 4, 'out'), 'E_FAMILY_CONFLICT', /IPv6 address \[::1\].*--ipv4/)
  throwsCode(() => preflight(rt, spec('udp/listen:127.0.0.1:80'), 6, 'in'), 'E_FAMILY_CONFLICT')
  throwsCode(() => preflight(rt, spec('tcp/client:[::ffff:192.0.2.1]:80'), 6, 'out'), 'E_FAMILY_CONFLICT')
  throwsCode(() => parseConnector('tcp4/client:[::1]:80'), 'E_FAMILY_CONFLICT')
  preflight(rt, spec('tcp/client:relay.test:80'), 4, 'out')
  preflight(rt, spec('tcp4/client:127.0.0.1:80'), 4, 'out')
})

test('F4 and S8: a name with no address of the forced family is E_NO_SUITABLE_ADDRESS, never a fallback; no address at all is E_RESOLVE', async () => {
  const rt = fakeRuntime({ 'v6only.test': [v6('2001:db8::1')] })
  await rejectsCode(resolveConnect(rt, ep('tcp/client:v6only.test:80'), 't', 4), 'E_NO_SUITABLE_ADDRESS')
  await rejectsCode(resolveListen(rt, ep('tcp/server:v6only.test:80'), 't', 4), 'E_NO_SUITABLE_ADDRESS')
  await rejectsCode(resolveListen(rt, ep('tcp/server:nothing.test:80'), 't'), 'E_RESOLVE')
})

// --- M ---

test('M1: a local bind of one family filters a dual-stack remote to that family, with one warning', () => {
  const rt = fakeRuntime()
  const warnings: string[] = []
  const local = localBindOf(rt, ep('tcp/client:dual.test:80,bind=10.9.0.1'), 't')
  assert.deepEqual(filterForLocal(rt, [v6('2001:db8::1'), v4('10.9.0.2')], local, 't', (m) => warnings.push(m)), [v4('10.9.0.2')])
  assert.equal(warnings.length, 1)
  assert.match(warnings[0]!, /^W_FAMILY_FILTERED /)
  // The ::iface: prefix: an interface with only IPv4 addresses covers only IPv4.
  const viaIface = localBindOf(rt, ep('tcp/client::v4only:dual.test:80'), 't')
  assert.deepEqual(filterForLocal(rt, [v6('2001:db8::1'), v4('10.9.0.2')], viaIface, 't'), [v4('10.9.0.2')])
  assert.equal(viaIface?.addressFor(v4('10.9.0.2')), '10.8.0.1')
})

test('M2: a local bind of one family with a remote of only the other is E_FAMILY_MISMATCH (exit code 3), also at start for literals', () => {
  const rt = fakeRuntime()
  const local = localBindOf(rt, ep('tcp/client:x.test:80,bind=10.9.0.1'), 't')
  throwsCode(() => filterForLocal(rt, [v6('2001:db8::1')], local, 't'), 'E_FAMILY_MISMATCH')
  throwsCode(() => preflight(rt, spec('tcp/client:[2001:db8::1]:80,bind=10.9.0.1'), undefined, 'out'), 'E_FAMILY_MISMATCH')
  throwsCode(() => preflight(rt, spec('tcp/client:10.9.0.2:80,bind=::1'), undefined, 'out'), 'E_FAMILY_MISMATCH')
  throwsCode(() => preflight(rt, spec('udp/broadcast::v4only:[2001:db8::1]:80'), undefined, 'out'), 'E_FAMILY_MISMATCH')
  assert.equal(exitCodeFor(new RelayError('E_FAMILY_MISMATCH', 'x')), 3)
})

test('M3: no local bind, or bind=*, filters nothing', () => {
  const rt = fakeRuntime()
  const remotes = [v6('2001:db8::1'), v4('10.9.0.2')]
  assert.equal(localBindOf(rt, ep('tcp/client:x.test:80'), 't'), undefined)
  assert.deepEqual(filterForLocal(rt, remotes, undefined, 't'), remotes)
  assert.deepEqual(filterForLocal(rt, remotes, localBindOf(rt, ep('tcp/client:x.test:80,bind=*'), 't'), 't'), remotes)
})

test('M4: a link-local remote needs the local bind\'s zone', () => {
  const rt = fakeRuntime()
  throwsCode(() => preflight(rt, spec('tcp/client:[fe80::9%v1]:80,bind=fe80::1%v0'), undefined, 'out'), 'E_ZONE_MISMATCH')
  throwsCode(() => preflight(rt, spec('tcp/client::v0:[fe80::9%v1]:80'), undefined, 'out'), 'E_ZONE_MISMATCH')
  throwsCode(() => preflight(rt, spec('tcp/client:[fe80::9%v1]:80,bind=2001:db8:1::1'), undefined, 'out'), 'E_ZONE_MISMATCH')
  // Same zone, by name or by index, is fine; the iface's link-local address is the source.
  preflight(rt, spec('tcp/client:[fe80::9%v0]:80,bind=fe80::1%3'), undefined, 'out')
  const local = localBindOf(rt, ep('tcp/client::v0:[fe80::9%v0]:80'), 't')
  assert.equal(local?.addressFor(v6('fe80::9%v0')), 'fe80::1%v0')
  assert.equal(exitCodeFor(new RelayError('E_ZONE_MISMATCH', 'x')), 3)
})

test('P4: an interface or zone that does not exist is E_NO_SUCH_INTERFACE at use time (exit code 2)', () => {
  const rt = fakeRuntime()
  throwsCode(() => preflight(rt, spec('tcp/client::eth9:10.0.0.1:80'), undefined, 'out'), 'E_NO_SUCH_INTERFACE', /eth9.*lo, v0, v1, v4only/)
  throwsCode(() => preflight(rt, spec('tcp/client:[fe80::1%eth9]:80'), undefined, 'out'), 'E_NO_SUCH_INTERFACE')
  throwsCode(() => preflight(rt, spec('udp/listen::eth9:*:80'), undefined, 'in'), 'E_NO_SUCH_INTERFACE')
  assert.equal(exitCodeFor(new RelayError('E_NO_SUCH_INTERFACE', 'x')), 2)
})

// --- C9, C10 ---

test('C9: bind= and sourceport= apply to each attempt\'s own socket, of the attempt\'s family', async () => {
  const rt = fakeRuntime()
  const local = localBindOf(rt, ep('tcp/client::v0:dual.test:80,sourceport=40000'), 't')
  assert.equal(local?.port, 40000)
  await raceTcp(rt, 't', [v6('2001:db8:1::9'), v4('10.9.0.9')], 80, { timeoutMs: 1000, signal: new AbortController().signal, localAddressFor: (c) => local?.addressFor(c), localPort: local?.port })
  assert.deepEqual(rt.connects.map((c) => [c.address, c.localAddress, c.localPort]), [['2001:db8:1::9', '2001:db8:1::1', 40000]])
  throwsCode(() => localBindOf(rt, ep('tcp/client:x.test:80,sourceport=0'), 't'), 'E_CONFIG')
  throwsCode(() => localBindOf(rt, ep('tcp/client:x.test:80,bind=relay.test'), 't'), 'E_CONFIG')
  throwsCode(() => localBindOf(rt, ep('tcp/client::v0:x.test:80,bind=10.9.0.1'), 't'), 'E_CONFIG')
})

test('C10: an IP-literal remote is one attempt and never reaches the resolver', async () => {
  const rt = fakeRuntime()
  const addrs = await resolveConnect(rt, ep('tcp/client:[2001:db8::1]:80'), 't')
  await raceTcp(rt, 't', addrs, 80, { timeoutMs: 1000, signal: new AbortController().signal })
  assert.equal(rt.lookups.length, 0)
  assert.deepEqual(rt.connects.map((c) => c.address), ['2001:db8::1'])
})

test('attempt-delay=: 10–2000 ms, a warning below 100 ms (docs/addresses.md#racing-parameters)', () => {
  const warnings: string[] = []
  assert.deepEqual(raceOptionsOf({}, 't'), {})
  assert.deepEqual(raceOptionsOf({ 'attempt-delay': '300' }, 't'), { attemptDelayMs: 300 })
  assert.deepEqual(raceOptionsOf({ 'attempt-delay': '50ms' }, 't', (m) => warnings.push(m)), { attemptDelayMs: 50 })
  assert.match(warnings[0]!, /^W_ATTEMPT_DELAY_LOW/)
  throwsCode(() => raceOptionsOf({ 'attempt-delay': '5' }, 't'), 'E_CONFIG')
  throwsCode(() => raceOptionsOf({ 'attempt-delay': '2500' }, 't'), 'E_CONFIG')
})

// --- U1 ---

test('U1: udp/listen:* enumerates every local unicast address, loopback included, link-local with its zone', () => {
  const rt = fakeRuntime()
  const all = localUnicastAddresses(rt, [6, 4], 't')
  assert.deepEqual(all.addresses.map((a) => a.address), ['::1', '2001:db8:1::1', 'fe80::1%v0', 'fe80::2%v1', '127.0.0.1', '10.9.0.1', '10.8.0.1'])
  assert.deepEqual(all.missing, [])
  assert.deepEqual(localUnicastAddresses(rt, [6, 4], 't', 'v1'), { addresses: [v6('fe80::2%v1')], missing: [4] })
})

// --- MC5 ---

test('MC5: multicast settings are checked: interface named, family present, source family, unicast options refused', () => {
  const rt = fakeRuntime()
  assert.ok(isMulticastHost(ep('udp/listen:239.1.2.3:5000')))
  assert.ok(isMulticastHost(ep('udp/listen:[ff15::1234]:5000')))
  assert.ok(!isMulticastHost(ep('udp/listen:10.0.0.1:5000')))
  assert.deepEqual(multicastPlan(rt, ep('udp/listen::v0:239.1.2.3:5000'), 't'), { group: '239.1.2.3', family: 4, iface: { name: 'v0', index: 3, ipv4: '10.9.0.1' }, ttl: 1, loopback: false })
  const v6plan = multicastPlan(rt, ep('udp/broadcast:[ff02::1%v1]:5000,ttl=4,loopback'), 't')
  assert.deepEqual([v6plan.iface, v6plan.ttl, v6plan.loopback], [{ name: 'v1', index: 2 }, 4, true])
  throwsCode(() => multicastPlan(rt, ep('udp/listen:239.1.2.3:5000'), 't'), 'E_CONFIG', /needs the interface/)
  throwsCode(() => multicastPlan(rt, ep('udp/listen::v1:239.1.2.3:5000'), 't'), 'E_FAMILY_MISMATCH')
  throwsCode(() => multicastPlan(rt, ep('udp/listen::v0:239.1.2.3:5000,source=2001:db8::1'), 't'), 'E_FAMILY_MISMATCH')
  throwsCode(() => multicastPlan(rt, ep('udp/listen::v0:239.1.2.3:5000,ttl=256'), 't'), 'E_CONFIG')
  throwsCode(() => multicastPlan(rt, ep('udp/listen:[ff02::1%v0]:5000,iface=v1'), 't'), 'E_ZONE_MISMATCH')
  throwsCode(() => checkNotMulticastOptions(ep('udp/broadcast:10.0.0.1:5000,ttl=2'), 't'), 'E_NOT_MULTICAST')
  throwsCode(() => parseConnector('udp4/listen:[ff15::1]:5000'), 'E_FAMILY_CONFLICT')
  assert.equal(exitCodeFor(new RelayError('E_NOT_MULTICAST', 'x')), 2)
})

// --- E3 ---

test('E3: a ConnectRaceError (an AggregateError, not a RelayError) still maps to exit code 6', () => {
  const err = new ConnectRaceError('t', { code: 'E_CONNECT_FAILED', attempts: [], untried: [], resolveErrors: [], reason: 'failed' }, 80)
  assert.equal(exitCodeFor(err), 6)
  assert.equal(exitCodeFor(new RelayError('E_FAMILY_CONFLICT', 'x')), 3)
  assert.equal(exitCodeFor(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })), 1)
})

test('S5, F5: a wildcard leaves out a family the host has no address of, with W_FAMILY_UNAVAILABLE; forcing that family is a ListenError', async () => {
  const rt = fakeRuntime()
  rt.networkInterfaces = () => IFACES.filter((a) => a.family === 4)
  const warnings: string[] = []
  assert.deepEqual(await resolveListen(rt, ep('tcp/server:*:80'), 't', undefined, (m) => warnings.push(m)), [v4('0.0.0.0')])
  assert.match(warnings[0]!, /^W_FAMILY_UNAVAILABLE t: this host has no IPv6 address/)
  await rejectsCode(resolveListen(rt, ep('tcp/server:*:80'), 't', 6), 'E_LISTEN')
})

test('S6: several halves may share a port across tcp and udp; an exact duplicate listener is E_DUPLICATE_LISTEN (exit code 2)', async () => {
  const { checkDuplicateListens } = await import('../../src/half/duplicate-listen.ts')
  const half = (input: string, out: string) => ({ where: input, options: { in: input, out } })
  checkDuplicateListens([half('tcp/server:*:12345', 'udp/broadcast:127.0.0.1:9'), half('udp/listen:*:12345', 'tcp/client:127.0.0.1:1')])
  checkDuplicateListens([half('udp/listen:127.0.0.1:0', 'tcp/client:x:1'), half('udp/listen:127.0.0.1:0', 'tcp/client:x:1')])
  assert.throws(() => checkDuplicateListens([half('udp/listen:*:60000', 'tcp/client:a:1'), half('udp/listen:*:60000', 'tcp/client:b:1')]), (err: RelayError) => {
    assert.equal(err.code, 'E_DUPLICATE_LISTEN')
    assert.equal(exitCodeFor(err), 2)
    return true
  })
  assert.throws(() => checkDuplicateListens([half('tcp/server:[::1]:7000', 'udp/broadcast:127.0.0.1:9'), half('udp/listen:127.0.0.1:1', 'tls/server:[::1]:7000')]), /E_DUPLICATE|listens on tcp \[::1\]:7000/)
})

test('E1: every failure has a stable code on a RelayError (or a coded AggregateError for races); warnings start with their W_ code', async () => {
  const { ParseError } = await import('../../src/base/errors.ts')
  const { ListenError } = await import('../../src/net/bind-all.ts')
  assert.throws(() => parseConnector('tcp/client:[::1:80'), (e: unknown) => e instanceof ParseError && e instanceof RelayError && e.code === 'E_ENDPOINT_PARSE' && e.index === 11)
  const listen = new ListenError('t', [{ address: '::1', port: 80, errno: 'EADDRINUSE', message: 'in use' }])
  assert.ok(listen instanceof RelayError && listen.code === 'E_LISTEN' && listen.failures[0]?.errno === 'EADDRINUSE')
  const race = new ConnectRaceError('t', { code: 'E_CONNECT_FAILED', attempts: [{ id: 1, address: '::1', family: 6, phase: 'connect', errno: 'ECONNREFUSED', message: 'refused', startedMs: 0, endedMs: 1 }], untried: [], resolveErrors: [], reason: 'failed' }, 80)
  assert.ok(race instanceof AggregateError && race.code === 'E_CONNECT_FAILED' && race.errors[0]?.errno === 'ECONNREFUSED')
  const warnings: string[] = []
  filterForLocal(fakeRuntime(), [v6('2001:db8::1'), v4('10.0.0.1')], localBindOf(fakeRuntime(), ep('tcp/client:x:80,bind=10.0.0.2'), 't'), 't', (m) => warnings.push(m))
  assert.match(warnings[0]!, /^W_[A-Z_]+ /)
})

test('MC4: the interface of a multicast sender is its outgoing interface, not a source bind (no M filtering)', () => {
  const rt = fakeRuntime()
  // v1 has only a link-local IPv6 address: as a source bind it could not reach ff15::1.
  preflight(rt, spec('udp/broadcast::v1:[ff15::1]:5000'), undefined, 'out')
  throwsCode(() => preflight(rt, spec('udp/broadcast::v1:[2001:db8::1]:5000'), undefined, 'out'), 'E_FAMILY_MISMATCH')
})
