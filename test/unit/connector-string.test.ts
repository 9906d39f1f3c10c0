/**
 * Connector strings (docs/addresses.md#where-an-address-appears, the README's connector table):
 * every documented example parses to what a connector needs,
 * and every malformed string fails with a code and the index of the offending character.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { ParseError } from '../../src/base/errors.ts'
import { CONNECTOR_ROLES, type ConnectorSpec, formatConnector, parseConnector } from '../../src/net/connector-string.ts'
import type { Endpoint } from '../../src/net/endpoint.ts'
import { test } from '../harness.ts'

function throwsAt(input: string, code: string, index: number, message?: RegExp): void {
  assert.throws(() => parseConnector(input), (err: unknown) => {
    assert.ok(err instanceof ParseError, `${input}: expected a ParseError, got ${String(err)}`)
    assert.equal(err.code, code, err.message)
    assert.equal(err.index, index, err.message)
    assert.equal(err.input, input)
    if (message) assert.match(err.message, message)
    return true
  })
}

function ep(host: string, hostKind: Endpoint['hostKind'], port: number, extra: Partial<Endpoint> = {}): Endpoint {
  return { host, hostKind, port, options: {}, ...extra }
}

/** The spec without `text`, which is always the input. */
type Expected = Omit<ConnectorSpec, 'text'>

const examples: [string, Expected][] = [
  ['udp/listen:0.0.0.0:60000', { kind: 'udp', role: 'listen', endpoint: ep('0.0.0.0', 'ipv4', 60000), options: {} }],
  ['udp/listen:[::1]:60000', { kind: 'udp', role: 'listen', endpoint: ep('::1', 'ipv6', 60000), options: {} }],
  ['udp/listen:*:60000', { kind: 'udp', role: 'listen', endpoint: ep('*', 'wildcard', 60000), options: {} }],
  ['udp/broadcast:255.255.255.255:60000', { kind: 'udp', role: 'broadcast', endpoint: ep('255.255.255.255', 'ipv4', 60000), options: {} }],
  ['udp/broadcast:127.0.0.1:5353', { kind: 'udp', role: 'broadcast', endpoint: ep('127.0.0.1', 'ipv4', 5353), options: {} }],
  ['udp/event:0.0.0.0:60001', { kind: 'udp', role: 'event', endpoint: ep('0.0.0.0', 'ipv4', 60001), options: {} }],
  ['tcp/server:0.0.0.0:12345', { kind: 'tcp', role: 'server', endpoint: ep('0.0.0.0', 'ipv4', 12345), options: {} }],
  ['tcp/client:relay.example.com:12345', { kind: 'tcp', role: 'client', endpoint: ep('relay.example.com', 'name', 12345), options: {} }],
  ['tcp/server:[::]:12345', { kind: 'tcp', role: 'server', endpoint: ep('::', 'ipv6', 12345), options: {} }],
  ['tcp/listen:127.0.0.1:2222', { kind: 'tcp', role: 'listen', endpoint: ep('127.0.0.1', 'ipv4', 2222), options: {} }],
  ['tcp/listen:127.0.0.1:5432,to=db.internal:5432', { kind: 'tcp', role: 'listen', endpoint: ep('127.0.0.1', 'ipv4', 5432, { options: { to: 'db.internal:5432' } }), options: { to: 'db.internal:5432' } }],
  ['tcp/connect:10.0.0.5:22', { kind: 'tcp', role: 'connect', endpoint: ep('10.0.0.5', 'ipv4', 22), options: {} }],
  ['tcp/dial', { kind: 'tcp', role: 'dial', options: {} }],
  ['tcp/dial,bind=10.0.0.1', { kind: 'tcp', role: 'dial', options: { bind: '10.0.0.1' } }],
  ['tls/server:0.0.0.0:12345', { kind: 'tls', role: 'server', endpoint: ep('0.0.0.0', 'ipv4', 12345), options: {} }],
  ['tls/client:relay.example.com:12345', { kind: 'tls', role: 'client', endpoint: ep('relay.example.com', 'name', 12345), options: {} }],
  [
    'tls/client:host:443,sni=relay.example.com',
    { kind: 'tls', role: 'client', endpoint: ep('host', 'name', 443, { options: { sni: 'relay.example.com' } }), options: { sni: 'relay.example.com' } },
  ],
  ['http/0.0.0.0:8080', { kind: 'http', role: '', endpoint: ep('0.0.0.0', 'ipv4', 8080), options: {} }],
  ['https/0.0.0.0:8443', { kind: 'https', role: '', endpoint: ep('0.0.0.0', 'ipv4', 8443), options: {} }],
  ['ws/server:0.0.0.0:8080/tunnel', { kind: 'ws', role: 'server', endpoint: ep('0.0.0.0', 'ipv4', 8080), path: '/tunnel', options: {} }],
  ['ws/server:0.0.0.0:8080', { kind: 'ws', role: 'server', endpoint: ep('0.0.0.0', 'ipv4', 8080), path: '/', options: {} }],
  [
    'ws/client:wss://relay.example.com/tunnel',
    {
      kind: 'ws',
      role: 'client',
      endpoint: ep('relay.example.com', 'name', 443),
      url: 'wss://relay.example.com/tunnel',
      path: '/tunnel',
      options: {},
    },
  ],
  [
    'ws/client:ws://[fe80::1%25eth0]:8080/t?x=1',
    {
      kind: 'ws',
      role: 'client',
      endpoint: ep('fe80::1', 'ipv6', 8080, { zone: 'eth0' }),
      url: 'ws://[fe80::1%25eth0]:8080/t?x=1',
      path: '/t?x=1',
      options: {},
    },
  ],
  [
    'ws/client:relay.example.com:8080/tunnel',
    {
      kind: 'ws',
      role: 'client',
      endpoint: ep('relay.example.com', 'name', 8080),
      url: 'ws://relay.example.com:8080/tunnel',
      path: '/tunnel',
      options: {},
    },
  ],
  ['grpc/server:0.0.0.0:50051', { kind: 'grpc', role: 'server', endpoint: ep('0.0.0.0', 'ipv4', 50051), options: {} }],
  ['grpc/client:host:50051', { kind: 'grpc', role: 'client', endpoint: ep('host', 'name', 50051), options: {} }],
  [
    'tcp/client::eth0:192.168.1.100:12345',
    { kind: 'tcp', role: 'client', endpoint: ep('192.168.1.100', 'ipv4', 12345, { iface: 'eth0' }), iface: 'eth0', options: {} },
  ],
  // uhppoted-tunnel's own Makefile: an empty interface prefix means none.
  ['tls/client:::127.0.0.1:12345', { kind: 'tls', role: 'client', endpoint: ep('127.0.0.1', 'ipv4', 12345), options: {} }],
  [
    'udp/listen::en3:[fe80::1%en3]:60000',
    { kind: 'udp', role: 'listen', endpoint: ep('fe80::1', 'ipv6', 60000, { zone: 'en3', iface: 'en3' }), iface: 'en3', options: {} },
  ],
  ['udp/listen::60000', { kind: 'udp', role: 'listen', endpoint: ep('*', 'wildcard', 60000), options: {} }],
  [
    'https/0.0.0.0:8443,iface=eth1',
    { kind: 'https', role: '', endpoint: ep('0.0.0.0', 'ipv4', 8443, { iface: 'eth1' }), iface: 'eth1', options: {} },
  ],
  ['udp6/listen:*:60000', { kind: 'udp', role: 'listen', endpoint: ep('*', 'wildcard', 60000, { family: 6 }), options: {} }],
  ['TCP/Client:Relay.Example.com:1', { kind: 'tcp', role: 'client', endpoint: ep('relay.example.com', 'name', 1), options: {} }],
]

test('every documented connector example parses to its spec', () => {
  for (const [input, expected] of examples) assert.deepStrictEqual(parseConnector(input), { ...expected, text: input }, input)
})

test('udp/listen, udp/event, servers, http and https bind; udp/broadcast and clients connect', () => {
  // Port 0 and wildcards are only for binding (P6, P7).
  for (const c of ['udp/listen:*:0', 'udp/event::0', 'tcp/server:*:0', 'tls/server:*:0', 'ws/server:*:0', 'grpc/server:*:0', 'http/*:0', 'https/:0']) {
    assert.equal(parseConnector(c).endpoint?.port, 0, c)
  }
  for (const c of ['udp/broadcast:*:9', 'tcp/client:*:9', 'tls/client:*:9', 'ws/client:*:9', 'grpc/client:*:9']) throwsAt(c, 'E_INVALID_REMOTE', c.indexOf(':') + 1)
  for (const c of ['udp/broadcast:10.0.0.255:0', 'tcp/client:h:0', 'grpc/client:h:0']) throwsAt(c, 'E_INVALID_PORT', c.length - 1)
})

test('malformed strings fail with a code and the index of the offending character', () => {
  const rows: [string, string, number, RegExp?][] = [
    ['', 'E_CONNECTOR_PARSE', 0],
    [' udp/listen:*:1', 'E_CONNECTOR_PARSE', 0],
    ['foo/listen:1.2.3.4:5', 'E_CONNECTOR_PARSE', 0, /unknown connector kind 'foo': expected one of udp, tcp, tls, ws, grpc, zmq, xmpp, http, https/],
    ['tcp/bind:1.2.3.4:5', 'E_CONNECTOR_PARSE', 4, /unknown role 'bind' for tcp: expected one of tcp\/server, tcp\/client, tcp\/listen, tcp\/connect, tcp\/dial/],
    ['tcp/dial:1.2.3.4:5', 'E_CONNECTOR_PARSE', 8, /takes no address/],
    ['tcp/dial,iface=eth/0', 'E_CONNECTOR_PARSE', 18],
    ['tcp/connect:*:22', 'E_INVALID_REMOTE', 12],
    ['udp/bogus:1.2.3.4:5', 'E_CONNECTOR_PARSE', 4, /udp\/listen, udp\/broadcast, udp\/event/],
    ['udp/:1.2.3.4:5', 'E_CONNECTOR_PARSE', 4],
    ['udp:1.2.3.4:5', 'E_CONNECTOR_PARSE', 3],
    ['udp', 'E_CONNECTOR_PARSE', 3],
    ['udp/listen', 'E_CONNECTOR_PARSE', 10],
    ['udp/listen#:1.2.3.4:5', 'E_CONNECTOR_PARSE', 10, /unexpected character '#'/],
    ['udp/listen:127.0.0.1#:5300', 'E_INVALID_HOSTNAME', 20, /unexpected character '#' at character 21 of 'udp\/listen:127\.0\.0\.1#:5300'/],
    ['udp/listen:0.0.0.0', 'E_INVALID_PORT', 18, /missing port/],
    ['udp/listen:0.0.0.0:', 'E_INVALID_PORT', 19],
    ['udp/listen:60000', 'E_INVALID_PORT', 16, /write :60000 or \*:60000/],
    ['udp/listen:0.0.0.0:60000,', 'E_CONNECTOR_PARSE', 25],
    ['udp/listen:0.0.0.0:6x000', 'E_INVALID_PORT', 20],
    ['udp/listen:0.0.0.0:domain', 'E_INVALID_PORT', 19],
    ['tcp/client:[::1:80', 'E_ENDPOINT_PARSE', 11],
    ['tcp/client:[::1]80', 'E_ENDPOINT_PARSE', 16],
    ['tcp/client:::1:80', 'E_IPV6_NEEDS_BRACKETS', 11, /write \[::1\]:80/],
    ['tcp/client:2001:db8::1:80', 'E_IPV6_NEEDS_BRACKETS', 11, /write \[2001:db8::1\]:80/],
    ['tcp/client:127.1:12345', 'E_INVALID_IPV4', 11],
    ['tcp/client:[fe80::1]:80', 'E_ZONE_REQUIRED', 19],
    ['tcp/client::eth/0:10.0.0.1:80', 'E_CONNECTOR_PARSE', 15],
    ['tcp/client::abcdefghijklmnop:10.0.0.1:80', 'E_CONNECTOR_PARSE', 27],
    ['tcp/client::eth0:10.0.0.1:80,iface=eth1', 'E_CONNECTOR_PARSE', 35],
    ['tcp/server:0.0.0.0:12345/tunnel', 'E_INVALID_PORT', 24],
    ['tcp/client:tcp://host:1', 'E_CONNECTOR_PARSE', 11, /only by ws\/client/],
    ['ws/client:http://host/x', 'E_CONNECTOR_PARSE', 10, /ws:\/\/ or wss:\/\//],
    ['ws/client:wss://user:pw@host/x', 'E_CONNECTOR_PARSE', 23],
    ['ws/client:wss://host/x#frag', 'E_CONNECTOR_PARSE', 22],
    ['ws/client:wss://host/x^y', 'E_CONNECTOR_PARSE', 22],
    ['ws/client:wss://host/%zz', 'E_CONNECTOR_PARSE', 21],
    ['ws/client:wss://*/x', 'E_INVALID_REMOTE', 16],
    ['ws/server:0.0.0.0:8080/t?x=1', 'E_CONNECTOR_PARSE', 24],
    ['udp4/listen:[::1]:80', 'E_FAMILY_CONFLICT', 12],
    ['udp6/listen:[::ffff:10.0.0.1]:80', 'E_FAMILY_CONFLICT', 12],
    ['tls/client:host:443,sni=a,sni=b', 'E_CONNECTOR_PARSE', 26],
    ['tls/client:host:443,s n=a', 'E_CONNECTOR_PARSE', 21],
  ]
  for (const [input, code, index, message] of rows) throwsAt(input, code, index, message)
})

test('formatConnector writes the canonical form', () => {
  const rows: [string, string][] = [
    ['TCP/Client:Relay.Example.COM:12345', 'tcp/client:relay.example.com:12345'],
    ['udp/listen::60000', 'udp/listen:*:60000'],
    ['udp6/listen:[0::1]:60000', 'udp6/listen:[::1]:60000'],
    ['tls/client:::127.0.0.1:12345', 'tls/client:127.0.0.1:12345'],
    ['tcp/client:10.0.0.1:80,iface=eth0', 'tcp/client::eth0:10.0.0.1:80'],
    ['http/0.0.0.0:80,iface=eth0,b,a=1', 'http/0.0.0.0:80,a=1,b,iface=eth0'],
    ['ws/server:[::]:8080/', 'ws/server:[::]:8080'],
    ['ws/client:WSS://relay.example.com:443/tunnel', 'ws/client:wss://relay.example.com/tunnel'],
    ['ws/client:relay.example.com:80', 'ws/client:ws://relay.example.com/'],
  ]
  for (const [input, canonical] of rows) assert.equal(formatConnector(parseConnector(input)), canonical, input)
})

test('parse(format(spec)) equals spec over generated connectors', () => {
  fc.assert(fc.property(specArb(), (spec) => {
    const text = formatConnector(spec)
    assert.deepStrictEqual(parseConnector(text), { ...spec, text })
  }), { numRuns: 1000 })
})

const IFACE_CHARS = [...'abcdefghijklmnopqrstuvwxyz0123456789._-']

/** Connector specs as the parser builds them (so `text` is left to the property). */
function specArb(): fc.Arbitrary<Omit<ConnectorSpec, 'text'>> {
  // xmpp/client's address is a JID, covered in test/unit/xml-stream.test.ts.
  const pairs = Object.entries(CONNECTOR_ROLES).filter(([kind]) => kind !== 'xmpp').flatMap(([kind, roles]) => (roles.length ? roles.map((role) => [kind, role]) : [[kind, '']]))
  const iface = fc.string({ unit: fc.constantFrom(...IFACE_CHARS), minLength: 1, maxLength: 15 })
  const byte = fc.integer({ min: 1, max: 254 })
  const host = fc.oneof(
    fc.tuple(byte, byte, byte, byte).map((o) => ({ host: o.join('.'), hostKind: 'ipv4' as const })),
    fc.constantFrom({ host: '2001:db8::1', hostKind: 'ipv6' as const }, { host: 'fe80::1', hostKind: 'ipv6' as const, zone: '25x' }),
    fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z]\.example\.?$/).map((h) => ({ host: h, hostKind: 'name' as const })),
  )
  const path = fc.stringMatching(/^\/[a-z0-9/._~-]{0,12}$/)
  const options = fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9-]{0,6}$/).filter((k) => k !== 'iface'), fc.constantFrom('', '1', 'x=y'), { maxKeys: 2, noNullPrototype: true })
  return fc
    .record({
      pair: fc.constantFrom(...pairs),
      host,
      port: fc.integer({ min: 1, max: 65535 }),
      family: fc.constantFrom(undefined, 4, 6),
      iface: fc.option(iface, { nil: undefined }),
      path,
      options,
      tls: fc.boolean(),
    })
    .map(({ pair: [kind = '', role = ''], host, port, family, iface, path, options, tls }) => {
      // tcp/dial has no address: only options (and an interface).
      if (role === 'dial') return iface === undefined ? { kind, role, options: { ...options } } : { kind, role, options: { ...options }, iface }
      const endpoint: Endpoint = { ...host, port, options }
      const forced = family === 4 ? 'ipv4' : family === 6 ? 'ipv6' : undefined
      if (forced === host.hostKind || (family !== undefined && host.hostKind === 'name')) endpoint.family = family
      if (iface !== undefined) endpoint.iface = iface
      const spec: Omit<ConnectorSpec, 'text'> = { kind, role, endpoint, options: { ...options } }
      if (iface !== undefined) spec.iface = iface
      if (kind === 'ws') spec.path = path
      if (kind === 'ws' && role === 'client') {
        const scheme = tls ? 'wss' : 'ws'
        const bracketed = host.hostKind === 'ipv6' ? `[${host.host}${'zone' in host ? `%25${host.zone}` : ''}]` : host.host
        spec.url = `${scheme}://${bracketed}${port === (tls ? 443 : 80) ? '' : `:${port}`}${path}`
      }
      return spec
    })
}
