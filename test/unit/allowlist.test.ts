/**
 * --allow (src/net/allowlist.ts): CIDR, names, *.suffix, ports and ranges, denies, the check after
 * resolution, and clear errors for entries that are wrong.
 */
import assert from 'node:assert/strict'
import { Allowlist } from '../../src/net/allowlist.ts'
import { test } from '../harness.ts'

const A = (address: string) => ({ address, family: (address.includes(':') ? 6 : 4) as 4 | 6 })

test('address entries: CIDR blocks, single addresses, ports and ranges, IPv6 in brackets', () => {
  const allow = Allowlist.parse('10.0.0.0/8:22,192.0.2.7,[2001:db8::/32]:8000-8100,fd00::1')
  assert.ok(allow.checkName('10.1.2.3', 22).allowed)
  assert.equal(allow.checkName('10.1.2.3', 23).allowed, false)
  assert.equal(allow.checkName('11.0.0.1', 22).allowed, false)
  assert.ok(allow.checkName('192.0.2.7', 1).allowed, 'no port: every port')
  assert.ok(allow.checkName('2001:db8::5', 8050).allowed)
  assert.equal(allow.checkName('2001:db8::5', 8101).allowed, false)
  assert.ok(allow.checkName('fd00::1', 443).allowed)
  assert.ok(allow.checkName('::ffff:10.9.9.9', 22).allowed, 'IPv4-mapped IPv6 is read as IPv4')
  assert.match(allow.checkName('11.0.0.1', 22).why, /no --allow entry matches/)
})

test('name entries: exact names and *.suffix (not the suffix itself), case-insensitive', () => {
  const allow = Allowlist.parse('db.internal:5432,*.corp.example:443')
  assert.ok(allow.checkName('DB.Internal', 5432).allowed)
  assert.equal(allow.checkName('db.internal', 5433).allowed, false)
  assert.ok(allow.checkName('git.corp.example', 443).allowed)
  assert.ok(allow.checkName('a.b.corp.example', 443).allowed)
  assert.equal(allow.checkName('corp.example', 443).allowed, false)
  assert.equal(allow.checkName('evilcorp.example', 443).allowed, false)
  assert.equal(allow.checkName('10.0.0.1', 443).allowed, false, 'an address needs an address entry')
})

test('after resolution: a name entry does not lead into loopback or link-local, deny entries win, and address entries decide for other names', () => {
  const allow = Allowlist.parse('*.corp.example:443,10.0.0.0/8:443,!10.9.0.0/16')
  const name = allow.checkName('git.corp.example', 443)
  assert.equal(name.byName, '*.corp.example:443')
  const checked = allow.checkAddresses([A('127.0.0.1'), A('169.254.169.254'), A('10.9.1.1'), A('10.1.1.1'), A('203.0.113.5'), A('::1'), A('fe80::1')], 443, name.byName)
  assert.deepEqual(checked.allowed.map((a) => a.address), ['10.1.1.1', '203.0.113.5'])
  const why = Object.fromEntries(checked.denied.map((d) => [d.address, d.why]))
  assert.match(why['127.0.0.1']!, /loopback/)
  assert.match(why['169.254.169.254']!, /link-local/)
  assert.match(why['10.9.1.1']!, /!10\.9\.0\.0\/16/)
  assert.match(why['::1']!, /loopback/)
  assert.match(why['fe80::1']!, /link-local/)
  // A name no name entry matches: only addresses an address entry covers.
  const other = allow.checkName('db.elsewhere', 443)
  assert.ok(other.allowed && other.byName === undefined)
  assert.deepEqual(allow.checkAddresses([A('10.2.2.2'), A('203.0.113.5')], 443, undefined).allowed.map((a) => a.address), ['10.2.2.2'])
  // An address entry lets a name lead to loopback.
  const local = Allowlist.parse('localhost:8080,127.0.0.1:8080')
  const n = local.checkName('localhost', 8080)
  assert.deepEqual(local.checkAddresses([A('127.0.0.1')], 8080, n.byName).allowed.map((a) => a.address), ['127.0.0.1'])
})

test("'*' opens everything (and says so); '*' with denies keeps them; a name deny refuses before resolution", () => {
  const all = Allowlist.parse('*')
  assert.ok(all.opensEverything)
  assert.ok(all.checkName('127.0.0.1', 22).allowed)
  assert.deepEqual(all.checkAddresses([A('127.0.0.1')], 22, all.checkName('x.example', 22).byName).allowed.length, 1)
  const some = Allowlist.parse('*:443,!*.internal,!10.0.0.0/8')
  assert.equal(some.opensEverything, false)
  assert.equal(some.checkName('db.internal', 443).allowed, false)
  assert.equal(some.checkName('10.0.0.1', 443).allowed, false)
  assert.ok(some.checkName('example.org', 443).allowed)
  assert.equal(some.checkName('example.org', 80).allowed, false)
})

test('wrong entries are configuration errors that name the entry', () => {
  for (const [text, why] of [
    ['', /empty entry/],
    ['10.0.0.0/8:22,', /empty entry/],
    ['10.0.0.0/33', /prefix length/],
    ['db.internal/8', /cannot have a prefix length/],
    ['10.0.0.1:0', /not within 1-65535/],
    ['10.0.0.1:70000', /not a port|not within/],
    ['10.0.0.1:30-20', /not within/],
    ['10.0.0.1:ssh', /not a port/],
    ['[2001:db8::1:22', /no '\]'/],
    ['a*b.example', /first label/],
    ['bad_name!.example', /host name/],
  ] as const) {
    assert.throws(() => Allowlist.parse(text), (err: Error & { code?: string }) => err.code === 'E_CONFIG' && why.test(err.message), text)
  }
})
