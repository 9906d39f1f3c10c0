/**
 * docs/addresses.md P1–P10: one table per rule. P1's family digit sits on the connector kind,
 * so P1 is tested through parseConnector.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { ParseError } from '../../src/base/errors.ts'
import { parseConnector } from '../../src/net/connector-string.ts'
import { type Endpoint, formatEndpoint, type HostPortRules, parseHost, parseHostPort } from '../../src/net/endpoint.ts'
import { formatIPv6, needsZone, parseIPv6, v4Mapped } from '../../src/base/ip.ts'
import { test } from '../harness.ts'

const listen = { role: 'listen' } as const
const connect = { role: 'connect' } as const

/** Asserts that `fn` throws a ParseError with this code at this index of `input`. */
function throwsAt(fn: () => unknown, code: string, index: number, input?: string, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ParseError, `expected a ParseError, got ${String(err)}`)
    assert.equal(err.code, code, err.message)
    assert.equal(err.index, index, err.message)
    if (input !== undefined) assert.equal(err.input, input)
    if (message) assert.match(err.message, message)
    return true
  })
}

type Row = [input: string, rules: HostPortRules, expected: Partial<Endpoint>]
type BadRow = [input: string, rules: HostPortRules, code: string, index: number]

function checkRows(rows: Row[]): void {
  for (const [input, rules, expected] of rows) {
    const e = parseHostPort(input, rules)
    for (const [key, value] of Object.entries(expected)) assert.deepEqual(e[key as keyof Endpoint], value, `${input} → ${key}`)
  }
}

function checkBadRows(rows: BadRow[]): void {
  for (const [input, rules, code, index] of rows) throwsAt(() => parseHostPort(input, rules), code, index, input)
}

test('P1: the connector kind gives the protocol, its digit forces the family, case does not matter', () => {
  const rows: [string, { kind: string; role: string; family?: 4 | 6; host: string }][] = [
    ['udp/listen:0.0.0.0:60000', { kind: 'udp', role: 'listen', host: '0.0.0.0' }],
    ['udp4/listen:0.0.0.0:60000', { kind: 'udp', role: 'listen', family: 4, host: '0.0.0.0' }],
    ['tcp6/client:[::1]:80', { kind: 'tcp', role: 'client', family: 6, host: '::1' }],
    ['UDP/Listen:*:60000', { kind: 'udp', role: 'listen', host: '*' }],
    ['tcp6/server:*:80', { kind: 'tcp', role: 'server', family: 6, host: '*' }],
    // The kind always comes before '/', so a host may be called tcp, with or without the dot.
    ['tcp/client:tcp.:80', { kind: 'tcp', role: 'client', host: 'tcp.' }],
    ['tcp/client:tcp:80', { kind: 'tcp', role: 'client', host: 'tcp' }],
  ]
  for (const [input, want] of rows) {
    const spec = parseConnector(input)
    assert.equal(spec.kind, want.kind, input)
    assert.equal(spec.role, want.role, input)
    assert.equal(spec.endpoint?.family, want.family, input)
    assert.equal(spec.endpoint?.host, want.host, input)
  }
  // A bare endpoint has no protocol slot: `tcp:80` is the host tcp.
  assert.equal(parseHostPort('tcp:80', connect).host, 'tcp')
  throwsAt(() => parseConnector('tcp4/client:[::1]:80'), 'E_FAMILY_CONFLICT', 12)
  throwsAt(() => parseConnector('tcp6/client:127.0.0.1:80'), 'E_FAMILY_CONFLICT', 12)
  throwsAt(() => parseConnector('tcp5/client:127.0.0.1:80'), 'E_CONNECTOR_PARSE', 0)
})

test('P2: IPv4 is a strict dotted quad; shorthand, hex and octal are rejected', () => {
  checkRows([
    ['127.0.0.1:80', connect, { host: '127.0.0.1', hostKind: 'ipv4' }],
    ['255.255.255.255:60000', connect, { host: '255.255.255.255', hostKind: 'ipv4' }],
    ['0.0.0.0:0', listen, { host: '0.0.0.0', hostKind: 'ipv4', port: 0 }],
  ])
  checkBadRows([
    ['127.1:80', connect, 'E_INVALID_IPV4', 0],
    ['0x7f.0.0.1:80', connect, 'E_INVALID_IPV4', 0],
    ['010.0.0.1:80', connect, 'E_INVALID_IPV4', 0],
    ['10.0.0.010:80', connect, 'E_INVALID_IPV4', 7],
    ['1.2.3.256:80', connect, 'E_INVALID_IPV4', 6],
    ['1.2.3.4.5:80', connect, 'E_INVALID_IPV4', 7],
    ['1..3.4:80', connect, 'E_INVALID_IPV4', 2],
    ['1.2.3.4.:80', connect, 'E_INVALID_IPV4', 7],
    ['2130706433:80', connect, 'E_INVALID_IPV4', 0],
    ['host.0x10:80', connect, 'E_INVALID_HOSTNAME', 5],
    ['a.1.2.3:80', connect, 'E_INVALID_HOSTNAME', 6],
    ['0x7f.1:80', connect, 'E_INVALID_IPV4', 0],
  ])
  // Full-width digits map to ASCII under IDNA: the result must not sneak in as an address.
  throwsAt(() => parseHostPort('１２７.０.０.１:80', connect), 'E_INVALID_HOSTNAME', 0)
})

test('P3: an IPv6 address followed by a port needs brackets, and the error shows how', () => {
  throwsAt(() => parseHostPort('::1:80', connect), 'E_IPV6_NEEDS_BRACKETS', 0, '::1:80', /write \[::1\]:80/)
  throwsAt(() => parseHostPort('fe80::1%eth0:80', connect), 'E_IPV6_NEEDS_BRACKETS', 0, undefined, /\[fe80::1%eth0\]:80/)
  throwsAt(() => parseHostPort('2001:db8::1', { ...connect, defaultPort: 443 }), 'E_IPV6_NEEDS_BRACKETS', 0, undefined, /\[2001:db8::1\]:<port>/)
  throwsAt(() => parseHostPort('host:80:90', connect), 'E_ENDPOINT_PARSE', 7)
  checkRows([['[::1]:80', connect, { host: '::1', hostKind: 'ipv6', port: 80 }]])
  // Where no port can follow (bind=::1), no brackets are needed.
  assert.deepEqual(parseHost('::1'), { host: '::1', hostKind: 'ipv6' })
  assert.deepEqual(parseHost('[::1]'), { host: '::1', hostKind: 'ipv6' })
  assert.deepEqual(parseHost('fe80::1%eth0'), { host: 'fe80::1', hostKind: 'ipv6', zone: 'eth0' })
  assert.deepEqual(parseHost('10.9.0.1'), { host: '10.9.0.1', hostKind: 'ipv4' })
  throwsAt(() => parseHost('fe80::1'), 'E_ZONE_REQUIRED', 7)
})

test('P4: zones: names and indexes, %25 decoding, charset and length, required on link scope', () => {
  checkRows([
    ['[fe80::1%eth0]:80', connect, { host: 'fe80::1', zone: 'eth0' }],
    ['[fe80::1%3]:80', connect, { host: 'fe80::1', zone: '3' }],
    ['[fe80::1%25eth0]:80', connect, { host: 'fe80::1', zone: 'eth0' }],
    ['[fe80::1%25]:80', connect, { host: 'fe80::1', zone: '25' }],
    ['[FE80::ABCD%en0]:80', listen, { host: 'fe80::abcd', zone: 'en0' }],
    ['[febf::1%v0]:80', connect, { host: 'febf::1', zone: 'v0' }],
    ['[ff02::1%v1]:5353', connect, { host: 'ff02::1', zone: 'v1' }],
    ['[ff05::1]:5353', connect, { host: 'ff05::1', zone: undefined }],
    ['[fe80::1%abcdefghijklmno]:80', connect, { zone: 'abcdefghijklmno' }],
  ])
  checkBadRows([
    ['[fe80::1]:80', connect, 'E_ZONE_REQUIRED', 8],
    ['[fe80::1]:80', listen, 'E_ZONE_REQUIRED', 8],
    ['[ff02::1]:5353', connect, 'E_ZONE_REQUIRED', 8],
    ['[ff01::1]:5353', listen, 'E_ZONE_REQUIRED', 8],
    ['[ff32::1]:5353', listen, 'E_ZONE_REQUIRED', 8],
    ['[fe80::1%]:80', connect, 'E_ENDPOINT_PARSE', 9],
    ['[fe80::1%abcdefghijklmnop]:80', connect, 'E_ENDPOINT_PARSE', 24],
    ['[fe80::1%eth/0]:80', connect, 'E_ENDPOINT_PARSE', 12],
    ['[fe80::1%eth 0]:80', connect, 'E_ENDPOINT_PARSE', 12],
    ['[fe80::1%et%h0]:80', connect, 'E_ENDPOINT_PARSE', 11],
  ])
  const global = parseHostPort('[2001:db8::1%eth0]:80', connect)
  assert.equal(global.zone, undefined)
  assert.deepEqual(global.warnings?.map((w) => w.code), ['W_ZONE_IGNORED'])
})

test('P5: host names are IDNA-encoded, lowercased, length-checked; a trailing dot is kept', () => {
  const label63 = 'a'.repeat(63)
  const name253 = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`
  checkRows([
    ['bücher.example:80', connect, { host: 'xn--bcher-kva.example', hostKind: 'name' }],
    ['BÜCHER.Example:80', connect, { host: 'xn--bcher-kva.example' }],
    ['münchen。de:80', connect, { host: 'xn--mnchen-3ya.de' }],
    ['Relay.Example.COM:12345', connect, { host: 'relay.example.com', port: 12345 }],
    ['example.com.:80', connect, { host: 'example.com.' }],
    ['my_db:5432', connect, { host: 'my_db' }],
    ['localhost:80', connect, { host: 'localhost' }],
    ['1password.com:443', connect, { host: '1password.com' }],
    [`${label63}.example:80`, connect, { host: `${label63}.example` }],
    [`${name253}:80`, connect, { host: name253 }],
    [`${name253}.:80`, connect, { host: `${name253}.` }],
  ])
  checkBadRows([
    [`${'a'.repeat(64)}.example:80`, connect, 'E_INVALID_HOSTNAME', 0],
    [`x.${'a'.repeat(64)}:80`, connect, 'E_INVALID_HOSTNAME', 2],
    [`${name253}a:80`, connect, 'E_INVALID_HOSTNAME', 0],
    ['a..b:80', connect, 'E_INVALID_HOSTNAME', 2],
    ['.a:80', connect, 'E_INVALID_HOSTNAME', 0],
    ['-a.example:80', connect, 'E_INVALID_HOSTNAME', 0],
    ['a-.example:80', connect, 'E_INVALID_HOSTNAME', 1],
    ['*.example:80', connect, 'E_INVALID_HOSTNAME', 0],
    ['ex ample:80', connect, 'E_INVALID_HOSTNAME', 2],
    ['xn--zz.example:80', connect, 'E_INVALID_HOSTNAME', 0],
    ['a＊b.example:80', connect, 'E_INVALID_HOSTNAME', 0],
  ])
  throwsAt(() => parseHostPort('ex@mple:80', connect), 'E_INVALID_HOSTNAME', 2, undefined, /unexpected character '@'/)
})

test('P6: ports are decimal 0–65535, no service names, 0 only for listening', () => {
  checkRows([
    ['host:0', listen, { port: 0 }],
    ['host:65535', connect, { port: 65535 }],
    ['host', { ...connect, defaultPort: 443 }, { port: 443 }],
    ['[::1]', { ...connect, defaultPort: 443 }, { port: 443 }],
  ])
  checkBadRows([
    ['host:65536', connect, 'E_INVALID_PORT', 5],
    ['host:100000', connect, 'E_INVALID_PORT', 5],
    ['host:http', connect, 'E_INVALID_PORT', 5],
    ['host:080', connect, 'E_INVALID_PORT', 5],
    ['host:8a', connect, 'E_INVALID_PORT', 6],
    ['host:-1', connect, 'E_INVALID_PORT', 5],
    ['host:0', connect, 'E_INVALID_PORT', 5],
    ['host:', connect, 'E_INVALID_PORT', 5],
    ['host:', { ...connect, defaultPort: 80 }, 'E_INVALID_PORT', 5],
    ['host', connect, 'E_INVALID_PORT', 4],
    ['[::1]', connect, 'E_INVALID_PORT', 5],
    ['[::1]80', connect, 'E_ENDPOINT_PARSE', 5],
    ['host', { ...connect, defaultPort: 0 }, 'E_INVALID_PORT', 4],
  ])
})

test('P7: * and an empty host are wildcards, 0.0.0.0 and [::] are one family, none is a remote', () => {
  checkRows([
    ['*:443', listen, { host: '*', hostKind: 'wildcard', port: 443 }],
    [':443', listen, { host: '*', hostKind: 'wildcard', port: 443 }],
    ['0.0.0.0:443', listen, { host: '0.0.0.0', hostKind: 'ipv4' }],
    ['[::]:443', listen, { host: '::', hostKind: 'ipv6' }],
    ['[::]:443,ipv6only=0', listen, { host: '::', options: { ipv6only: '0' } }],
  ])
  checkBadRows([
    ['*:443', connect, 'E_INVALID_REMOTE', 0],
    [':443', connect, 'E_INVALID_REMOTE', 0],
    ['0.0.0.0:443', connect, 'E_INVALID_REMOTE', 0],
    ['[::]:443', connect, 'E_INVALID_REMOTE', 0],
  ])
})

test('P8: a v4-mapped literal becomes IPv4 with a warning and counts as IPv4', () => {
  for (const input of ['[::ffff:192.0.2.1]:80', '[::FFFF:c000:201]:80']) {
    const e = parseHostPort(input, connect)
    assert.equal(e.host, '192.0.2.1')
    assert.equal(e.hostKind, 'ipv4')
    assert.deepEqual(e.warnings?.map((w) => w.code), ['W_V4MAPPED_NORMALIZED'])
  }
  assert.equal(parseHostPort('[::ffff:192.0.2.1]:80', { ...connect, family: 4 }).family, 4)
  throwsAt(() => parseHostPort('[::ffff:192.0.2.1]:80', { ...connect, family: 6 }), 'E_FAMILY_CONFLICT', 0)
  // Only ::ffff:0:0/96 is mapped; the deprecated v4-compatible form stays IPv6.
  assert.equal(parseHostPort('[::192.0.2.1]:80', connect).host, '::c000:201')
})

test('P9: format is canonical (RFC 5952, lowercase, zone kept, * for wildcards)', () => {
  const rows: [string, string][] = [
    ['[2001:DB8:0:0:0:0:0:1]:80', '[2001:db8::1]:80'],
    ['[2001:0db8::0001]:80', '[2001:db8::1]:80'],
    ['[2001:db8:0:0:1:0:0:1]:80', '[2001:db8::1:0:0:1]:80'],
    ['[2001:db8:0:1:1:1:1:1]:80', '[2001:db8:0:1:1:1:1:1]:80'],
    ['[2001:db8::0:1]:80', '[2001:db8::1]:80'],
    ['[0:0:0:0:0:0:0:0]:80', '[::]:80'],
    ['[fe80::1%25eth0]:80', '[fe80::1%eth0]:80'],
    ['[fe80::1%2525x]:80', '[fe80::1%2525x]:80'],
    [':80', '*:80'],
    ['Example.COM.:80,ReuseAddr,Iface=eth0,connect-timeout=5', 'example.com.:80,connect-timeout=5,iface=eth0,reuseaddr'],
  ]
  for (const [input, canonical] of rows) assert.equal(formatEndpoint(parseHostPort(input, listen)), canonical, input)
})

test('P9: parse(format(x)) deep-equals x over generated endpoints', () => {
  fc.assert(fc.property(endpointArb(), (x) => {
    const rules: HostPortRules = x.family === undefined ? listen : { ...listen, family: x.family }
    assert.deepStrictEqual(parseHostPort(formatEndpoint(x), rules), x)
  }), { numRuns: 2000 })
})

test('P10: parse errors carry the input and the index of the offending character', () => {
  // `tcp:[::1:80` from the spec, with the endpoint cut out of its connector string.
  throwsAt(() => parseHostPort('[::1:80', { ...connect, source: 'tcp:[::1:80', offset: 4 }), 'E_ENDPOINT_PARSE', 4, 'tcp:[::1:80')
  throwsAt(() => parseHostPort('[::1:80', connect), 'E_ENDPOINT_PARSE', 0, '[::1:80')
  throwsAt(() => parseHostPort('[::1:80', { ...connect, offset: 4 }), 'E_ENDPOINT_PARSE', 4, '[::1:80')
  throwsAt(() => parseHostPort('[::1x]:80', connect), 'E_ENDPOINT_PARSE', 4)
  throwsAt(() => parseHostPort('[1:2:3:4:5:6:7:8:9]:80', connect), 'E_ENDPOINT_PARSE', 17)
  throwsAt(() => parseHostPort('[1::2::3]:80', connect), 'E_ENDPOINT_PARSE', 6)
  throwsAt(() => parseHostPort('[12345::1]:80', connect), 'E_ENDPOINT_PARSE', 5)
  throwsAt(() => parseHostPort('[]:80', connect), 'E_ENDPOINT_PARSE', 1)
  throwsAt(() => parseHostPort('a:80,x,x', { ...connect, source: 'tcp/client:a:80,x,x', offset: 11 }), 'E_ENDPOINT_PARSE', 18)
  assert.throws(() => parseHostPort('a:80', { ...connect, source: 'b:80', offset: 0 }), RangeError)
  const err = captured(() => parseHostPort('127.0.0.1#:5300', connect))
  assert.match(err.message, /^invalid host name: unexpected character '#' at character 10 of '127\.0\.0\.1#:5300'/)
})

test('options: keys lowercased, bare keys, iface lifted out, mistakes located', () => {
  const e = parseHostPort('host:80,ReuseAddr,connect-timeout=5,token=a=b,iface=eth0', connect)
  assert.deepEqual(e.options, { reuseaddr: '', 'connect-timeout': '5', token: 'a=b' })
  assert.equal(e.iface, 'eth0')
  checkBadRows([
    ['host:80,', connect, 'E_ENDPOINT_PARSE', 8],
    ['host:80,,a', connect, 'E_ENDPOINT_PARSE', 8],
    ['host:80,=1', connect, 'E_ENDPOINT_PARSE', 8],
    ['host:80,a,A', connect, 'E_ENDPOINT_PARSE', 10],
    ['host:80,sni=', connect, 'E_ENDPOINT_PARSE', 12],
    ['host:80,b@d=1', connect, 'E_ENDPOINT_PARSE', 9],
    ['host:80,1x', connect, 'E_ENDPOINT_PARSE', 8],
    ['host:80,iface=a/b', connect, 'E_ENDPOINT_PARSE', 15],
    ['host:80,iface=abcdefghijklmnop', connect, 'E_ENDPOINT_PARSE', 29],
  ])
})

test('the IPv6 parser agrees with the URL parser on generated addresses', () => {
  fc.assert(fc.property(groupsArb(), (groups) => {
    const text = formatIPv6(groups)
    const parsed = parseIPv6(text)
    assert.ok(parsed.ok)
    assert.deepEqual(parsed.value, groups)
    // WHATWG URL also writes RFC 5952 (without the mixed v4 form, which we never write).
    assert.equal(new URL(`http://[${text}]/`).hostname, `[${text}]`)
  }), { numRuns: 1000 })
})

function captured(fn: () => unknown): ParseError {
  try {
    fn()
  } catch (err) {
    if (err instanceof ParseError) return err
    throw err
  }
  throw new Error('expected a ParseError')
}

const ZONE_CHARS = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:@[!~25']

/** Interface names and zones, including ones that start with '25' (the %25 escape). */
function zoneArb(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ unit: fc.constantFrom(...ZONE_CHARS), minLength: 1, maxLength: 15 }),
    fc.string({ unit: fc.constantFrom(...ZONE_CHARS), minLength: 1, maxLength: 13 }).map((z) => `25${z}`),
    fc.integer({ min: 1, max: 999 }).map(String),
  )
}

/** Eight 16-bit groups, biased to zero runs, link-local and multicast prefixes. */
function groupsArb(): fc.Arbitrary<number[]> {
  const group = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }))
  const prefix = fc.oneof(group, fc.constantFrom(0xfe80, 0xfebf, 0xff02, 0xff01, 0xff05, 0xff12, 0x2001))
  return fc.tuple(prefix, fc.array(group, { minLength: 7, maxLength: 7 })).map(([first, rest]) => [first, ...rest])
}

const label = fc.stringMatching(/^[a-z0-9_](?:[a-z0-9_-]{0,18}[a-z0-9_])?$/).filter((l) => !l.startsWith('xn--'))
const lastLabel = fc.stringMatching(/^[a-z](?:[a-z0-9_-]{0,10}[a-z0-9_])?$/).filter((l) => !l.startsWith('xn--'))

/** Canonical endpoints of every host kind, with zones, iface, options and forced families. */
function endpointArb(): fc.Arbitrary<Endpoint> {
  const byte = fc.integer({ min: 0, max: 255 })
  const ipv4 = fc.tuple(byte, byte, byte, byte).map((o) => ({ host: o.join('.'), hostKind: 'ipv4' as const, families: [4] as const }))
  const ipv6 = fc
    .tuple(groupsArb(), zoneArb())
    .filter(([g]) => v4Mapped(g) === undefined)
    .map(([g, zone]) => ({ host: formatIPv6(g), hostKind: 'ipv6' as const, families: [6] as const, ...(needsZone(g) ? { zone } : {}) }))
  const name = fc
    .tuple(fc.array(label, { maxLength: 3 }), lastLabel, fc.boolean())
    .map(([labels, last, dot]) => ({ host: [...labels, last].join('.') + (dot ? '.' : ''), hostKind: 'name' as const, families: [4, 6] as const }))
  const wildcard = fc.constant({ host: '*', hostKind: 'wildcard' as const, families: [4, 6] as const })
  const optionKey = fc.stringMatching(/^[a-z][a-z0-9_-]{0,8}$/).filter((k) => k !== 'iface')
  const optionValue = fc.oneof(fc.constant(''), fc.string({ minLength: 1, maxLength: 12 }).filter((v) => !/[,\p{Cc}]/u.test(v)))
  return fc
    .record({
      host: fc.oneof(ipv4, ipv6, name, wildcard),
      port: fc.integer({ min: 0, max: 65535 }),
      family: fc.constantFrom(undefined, 4, 6),
      iface: fc.option(zoneArb(), { nil: undefined }),
      options: fc.dictionary(optionKey, optionValue, { maxKeys: 3, noNullPrototype: true }),
    })
    .map(({ host: { families, ...host }, port, family, iface, options }) => {
      const e: Endpoint = { ...host, port, options }
      if (family !== undefined && (families as readonly number[]).includes(family)) e.family = family as 4 | 6
      if (iface !== undefined) e.iface = iface
      return e
    })
}
