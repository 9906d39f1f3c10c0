import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runtime } from '#runtime'
import { dnsResolver, hostsResolver } from '../../mod.ts'
import { RECORDS, dig, startDnsmasq } from '../helpers/dns.ts'
import { test, waitFor } from '../harness.ts'
import { half } from '../helpers/halves.ts'
import { dnsReply, fakeDns, queryType } from '../helpers/fake-dns.ts'
import { CLI, run, startOnFreePort, startProcess } from '../helpers/processes.ts'
import { echoDevice, roundTrip } from '../helpers/udp.ts'

// --resolver and the library's `resolver`: dnsmasq (or a scripted server) answers `localhost` with
// 127.0.0.2, where the far half listens, while the system resolver says 127.0.0.1 / ::1, where
// nothing does; a hosts file says 127.0.0.3. Every lookup stays on this machine.

const localhostAt = (addr: string) => [`--host-record=localhost,${addr}`, '--host-record=dual.example,127.0.0.2,::1']

async function farAt(t: Parameters<typeof half>[0], address: string) {
  const device = await echoDevice(t)
  const far = await half(t, { in: `tcp/server:${address}:0`, out: `udp/broadcast:127.0.0.1:${device.port}` })
  return far.inAddresses()[0]!.port
}

test('--resolver <dnsmasq>: tcp/client reaches the address dnsmasq gives, which the system resolver would not', async (t) => {
  const dns = await startDnsmasq(t, { extra: localhostAt('127.0.0.2') })
  const port = await farAt(t, '127.0.0.2')
  const near = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tcp/client:localhost:${port}`, resolver: `127.0.0.1:${dns}` })
  assert.equal(await roundTrip(t, near.inAddresses()[0]!.port), 'reply0:ping')
  // The control: the system's localhost is 127.0.0.1 and ::1, where nothing listens on this port.
  const system = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tcp/client:localhost:${port}`, resolver: 'system', maxRetryDelay: '5s' })
  await waitFor(() => system.lines.some((l) => /127\.0\.0\.1:\d+ ECONNREFUSED/.test(l)), 'the system resolver\'s address to be refused')
  assert.ok(!system.lines.some((l) => /127\.0\.0\.2/.test(l)), system.lines.join('\n'))
})

test('--resolver: the Happy Eyeballs race takes both families from the chosen server, AAAA first', async (t) => {
  const dns = await startDnsmasq(t, { extra: localhostAt('127.0.0.2') })
  const port = await farAt(t, '127.0.0.2')
  const near = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tcp/client:dual.example:${port}`, resolver: `127.0.0.1:${dns}` })
  assert.equal(await roundTrip(t, near.inAddresses()[0]!.port), 'reply0:ping')
  const race = near.lines.filter((l) => /attempt-start|winner/.test(l)).map((l) => l.replace(/^.*(attempt-start|winner) (\S+).*$/, '$1 $2'))
  assert.deepEqual(race, [`attempt-start [::1]:${port}`, `attempt-start 127.0.0.2:${port}`, `winner 127.0.0.2:${port}`])
})

test('--resolver hosts:FILE (library: hostsResolver) and a resolver function', async (t) => {
  const port = await farAt(t, '127.0.0.3')
  const viaHosts = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tcp/client:relay.test:${port}`, resolver: hostsResolver('127.0.0.3 relay.test\n') })
  assert.equal(await roundTrip(t, viaHosts.inAddresses()[0]!.port), 'reply0:ping')
  const asked: string[] = []
  const viaFunction = await half(t, {
    in: 'udp/listen:127.0.0.1:0',
    out: `tcp/client:anything.invalid:${port}`,
    resolver: async (name) => {
      asked.push(name)
      return [{ address: '127.0.0.3', family: 4 }]
    },
  })
  assert.equal(await roundTrip(t, viaFunction.inAddresses()[0]!.port), 'reply0:ping')
  assert.deepEqual(asked, ['anything.invalid'])
})

test('dns resolver: A and AAAA asked in parallel; a late AAAA is left out after the resolution delay', async (t) => {
  const server = await fakeDns(t, (q) => queryType(q) === 1 ? [{ data: dnsReply(q, [[1, [127, 0, 0, 2]]]) }] : [{ data: dnsReply(q, [[28, [...new Array(15).fill(0), 1]]]), delayMs: 1500 }])
  const lookup = dnsResolver(runtime, { address: '127.0.0.1', port: server.port, family: 4 })
  assert.deepEqual(await lookup('late.example'), [{ address: '127.0.0.2', family: 4 }])
  assert.equal(server.udp, 2)
  const both = await fakeDns(t, (q) => queryType(q) === 1 ? [{ data: dnsReply(q, [[1, [127, 0, 0, 2]]]) }] : [{ data: dnsReply(q, [[28, [...new Array(15).fill(0), 1]]]), delayMs: 20 }])
  // An AAAA 20 ms behind A is kept; the wait is widened so a loaded machine cannot stretch 20 ms past it.
  assert.deepEqual(await dnsResolver(runtime, { address: '127.0.0.1', port: both.port, family: 4 }, 1000)('both.example'), [{ address: '::1', family: 6 }, { address: '127.0.0.2', family: 4 }])
})

test('dns resolver: a truncated reply is asked again over TCP; forged replies (other id, other name) are ignored', async (t) => {
  const server = await fakeDns(t, (q, via) => {
    if (queryType(q) !== 1) return [{ data: dnsReply(q, [], { rcode: 3 }) }]
    if (via === 'tcp') return [{ data: dnsReply(q, Array.from({ length: 40 }, (_, i) => [1, [127, 0, 1, i]] as [number, number[]])) }]
    const id = (q[0]! << 8) | q[1]!
    const other = Uint8Array.from(q)
    other[13] = 0x79
    return [{ data: dnsReply(q, [[1, [6, 6, 6, 6]]], { id: id ^ 1 }) }, { data: dnsReply(other, [[1, [6, 6, 6, 6]]]) }, { data: dnsReply(q, [], { tc: true }), delayMs: 30 }]
  })
  const found = await dnsResolver(runtime, { address: '127.0.0.1', port: server.port, family: 4 })('big.example')
  assert.equal(found.length, 40)
  assert.ok(found.every((a) => a.address.startsWith('127.0.1.')), JSON.stringify(found))
  assert.equal(server.tcp, 1)
})

test('dns resolver: SERVFAIL, a malformed reply and a silent server are E_RESOLVE errors naming the server', async (t) => {
  const servfail = await fakeDns(t, (q) => [{ data: dnsReply(q, [], { rcode: 2 }) }])
  await assert.rejects(dnsResolver(runtime, { address: '127.0.0.1', port: servfail.port, family: 4 })('x.example'), { code: 'E_RESOLVE', message: new RegExp(`A x\\.example @127\\.0\\.0\\.1:${servfail.port}: server answered RCODE 2 \\(SERVFAIL\\)`) })
  const bad = await fakeDns(t, (q) => [{ data: dnsReply(q, [[1, [1, 2, 3]]]) }])
  await assert.rejects(dnsResolver(runtime, { address: '127.0.0.1', port: bad.port, family: 4 })('x.example', 4), { code: 'E_RESOLVE', message: /malformed DNS reply: A record of 3 bytes/ })
  const silent = await fakeDns(t, () => [])
  await assert.rejects(dnsResolver(runtime, { address: '127.0.0.1', port: silent.port, family: 4 })('x.example', 6), { code: 'E_RESOLVE', message: /no reply within 2 × 2000 ms/ })
  assert.equal(silent.udp, 2)
}, { timeout: 15_000 })

test('CLI: dig through a tunnel whose far half is found with --resolver; bad --resolver values exit 2', async (t) => {
  const cli = CLI[t.runtime]
  const dns = await startDnsmasq(t, { extra: localhostAt('127.0.0.2') })
  const { port: tunnelPort } = await startOnFreePort(t, (port) => [...cli, '--in', `tcp/server:127.0.0.2:${port}`, '--out', `udp/broadcast:127.0.0.1:${dns}`], /listening on/)
  const { port: nearPort } = await startOnFreePort(t, (port) => [...cli, '--in', `udp/listen:127.0.0.1:${port}`, '--out', `tcp/client:localhost:${tunnelPort}`, '--resolver', `127.0.0.1:${dns}`], /connected to 127\.0\.0\.2/)
  assert.equal(await dig(nearPort, 'host.example'), RECORDS['host.example'])
  const dir = mkdtempSync(join(tmpdir(), 'edgerelay-hosts-'))
  t.defer(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'hosts'), '127.0.0.2 far.test\n')
  const viaHosts = startProcess(t, [...cli, '--in', 'udp/listen:127.0.0.1:0', '--out', `tcp/client:far.test:${tunnelPort}`, '--resolver', `hosts:${join(dir, 'hosts')}`])
  await viaHosts.waitFor(/connected to 127\.0\.0\.2/)
  for (const [value, message] of [['hosts:/nonexistent/hosts', /cannot read the --resolver hosts file/], ['dns.example:53', /must be an address literal/]] as const) {
    const r = await run([...cli, '--in', 'udp/listen:127.0.0.1:0', '--out', 'tcp/client:localhost:9', '--resolver', value])
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, message)
  }
}, { timeout: 30_000 })
