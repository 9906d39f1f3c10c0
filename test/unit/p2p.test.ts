import assert from 'node:assert/strict'
import { test } from '../harness.ts'
import { planP2p } from '../../src/net/p2p.ts'

// docs/addresses.md U7: udp/p2p binds the local addresses of the peer's families and sends to the
// peer's first address of a bound family.

const v4 = (address: string) => ({ address, family: 4 as const })
const v6 = (address: string) => ({ address, family: 6 as const })

test('U7: local addresses of both families and a dual-stack peer: both bound, the peer\'s first address used, no warning', () => {
  const warnings: string[] = []
  const p = planP2p([v6('::'), v4('0.0.0.0')], [v6('2001:db8::2'), v4('192.0.2.2')], 5000, 'x', (m) => warnings.push(m))
  assert.deepEqual(p.bind, [v6('::'), v4('0.0.0.0')])
  assert.deepEqual(p.peer, v6('2001:db8::2'))
  assert.deepEqual(p.accept, [v6('2001:db8::2'), v4('192.0.2.2')])
  assert.deepEqual(warnings, [])
})

test('U7: a family the peer lacks is not bound', () => {
  const p = planP2p([v6('::'), v4('0.0.0.0')], [v4('192.0.2.2')], 5000, 'x', () => assert.fail('no warning'))
  assert.deepEqual(p.bind, [v4('0.0.0.0')])
  assert.deepEqual(p.peer, v4('192.0.2.2'))
})

test('U7: IPv4 bound, peer of both families: IPv4 kept, W_FAMILY_FILTERED names what was left out', () => {
  const warnings: string[] = []
  const p = planP2p([v4('10.0.0.1')], [v6('2001:db8::2'), v4('192.0.2.2')], 5000, 'udp/p2p:10.0.0.1:5000,peer=p.test:5000', (m) => warnings.push(m))
  assert.deepEqual(p.peer, v4('192.0.2.2'))
  assert.deepEqual(p.accept, [v4('192.0.2.2')])
  assert.deepEqual(warnings, ["W_FAMILY_FILTERED udp/p2p:10.0.0.1:5000,peer=p.test:5000: no local IPv6 address is bound, so the peer's [2001:db8::2]:5000 cannot be used; talking to 192.0.2.2:5000"])
})

test('U7: IPv4 bound, peer IPv6 only: E_FAMILY_MISMATCH', () => {
  assert.throws(() => planP2p([v4('10.0.0.1')], [v6('2001:db8::2')], 5000, 'x', () => {}), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'E_FAMILY_MISMATCH')
    assert.equal(e.message, "x: the local address has only IPv4 (10.0.0.1) and the peer only IPv6 ([2001:db8::2]); bind an address of the peer's family")
    return true
  })
})
