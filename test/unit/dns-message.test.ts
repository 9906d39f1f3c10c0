import assert from 'node:assert/strict'
import { test } from '../harness.ts'
import { encodeQuery, parseReply } from '../../src/net/dns-message.ts'
import { hostsResolver } from '../../src/net/resolver.ts'
import { dnsReply as reply } from '../helpers/fake-dns.ts'

// The stub resolver's DNS messages, and hosts-file text: what a server or a file could send that
// is wrong, and what is not ours.

test('A and AAAA queries and their replies, CNAME records skipped', () => {
  const q4 = encodeQuery(0x1234, 'Relay.Example.', 4)
  assert.deepEqual([...q4.subarray(0, 6)], [0x12, 0x34, 1, 0, 0, 1])
  assert.deepEqual(parseReply(reply(q4, [[5, [3, 0x77, 0x77, 0x77, 0xc0, 12]], [1, [127, 0, 0, 2]], [1, [10, 0, 0, 1]]]), 0x1234, 'relay.example', 4), { rcode: 0, truncated: false, addresses: ['127.0.0.2', '10.0.0.1'] })
  const q6 = encodeQuery(7, 'relay.example', 6)
  const v6 = [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1]
  assert.deepEqual(parseReply(reply(q6, [[28, v6]]), 7, 'relay.example', 6)?.addresses, ['2001:db8::1'])
  assert.deepEqual(parseReply(reply(q6, [], { rcode: 3 }), 7, 'relay.example', 6), { rcode: 3, truncated: false, addresses: [] })
  assert.equal(parseReply(reply(q6, [], { tc: true }), 7, 'relay.example', 6)?.truncated, true)
})

test('replies to another query (id, question, type) or not replies at all are not ours', () => {
  const q = encodeQuery(1, 'a.example', 4)
  const r = reply(q, [[1, [1, 2, 3, 4]]])
  assert.equal(parseReply(r, 2, 'a.example', 4), undefined)
  assert.equal(parseReply(r, 1, 'b.example', 4), undefined)
  assert.equal(parseReply(r, 1, 'a.example', 6), undefined)
  assert.equal(parseReply(q, 1, 'a.example', 4), undefined, 'a query (QR=0) is no reply')
  assert.equal(parseReply(r.subarray(0, 11), 1, 'a.example', 4), undefined)
})

test('malformed replies throw E_DNS_MALFORMED: short records, wrong A length, pointer loops', () => {
  const q = encodeQuery(1, 'a.example', 4)
  assert.throws(() => parseReply(reply(q, [[1, [1, 2, 3]]]), 1, 'a.example', 4), { code: 'E_DNS_MALFORMED' })
  const cut = reply(q, [[1, [1, 2, 3, 4]]])
  assert.throws(() => parseReply(cut.subarray(0, cut.length - 2), 1, 'a.example', 4), { code: 'E_DNS_MALFORMED' })
  const loop = reply(q, [[1, [1, 2, 3, 4]]])
  const at = q.length
  loop[at] = 0xc0
  loop[at + 1] = at
  assert.throws(() => parseReply(loop, 1, 'a.example', 4), { code: 'E_DNS_MALFORMED' })
})

test('names that cannot be asked are refused', () => {
  assert.throws(() => encodeQuery(1, 'a..example', 4), { code: 'E_RESOLVE' })
  assert.throws(() => encodeQuery(1, `${'x'.repeat(64)}.example`, 4), { code: 'E_RESOLVE' })
})

test('hosts file: comments, aliases, both families in file order, case; unknown names are errors', async () => {
  const r = hostsResolver('# test\n127.0.0.3  relay.example relay # near\n::1 relay.example\nnot-an-address x.example\n\n10.0.0.1 RELAY.example\n', 'hosts.txt')
  assert.deepEqual(await r('Relay.Example'), [{ address: '127.0.0.3', family: 4 }, { address: '::1', family: 6 }, { address: '10.0.0.1', family: 4 }])
  assert.deepEqual(await r('relay', 4), [{ address: '127.0.0.3', family: 4 }])
  assert.deepEqual(await r('relay.example', 6), [{ address: '::1', family: 6 }])
  await assert.rejects(r('x.example'), { code: 'E_RESOLVE', message: "'x.example' has no address in hosts.txt" })
  await assert.rejects(r('relay', 6), { code: 'E_RESOLVE' })
})
