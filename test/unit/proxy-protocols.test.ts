/**
 * The SOCKS5 (src/protocol/socks5.ts) and HTTP CONNECT (src/protocol/http-connect.ts) parsers a
 * proxy client reaches before it has authenticated, the destination check of socks5/listen and the
 * --proxy-users file: every field of the bad-input list, and properties over random and
 * truncated input (fast-check): a parser says `more`, `bad` or `done`, never throws, never reads
 * past what it was given, and a valid message cut anywhere is `more`.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  AddressType, Command, encodeAddress, encodeReply, encodeUdpHeader, Method, parseGreeting, parseRequest, parseUdpHeader,
  parseUserPass, Reply, SOCKS_MAX_MESSAGE,
} from '../../src/protocol/socks5.ts'
import { basicCredentials, CONNECT_MAX_HEAD, encodeResponse, parseConnectHead } from '../../src/protocol/http-connect.ts'
import { destinationOf } from '../../src/connectors/socks5-address.ts'
import { ProxyUsers } from '../../src/core/proxy-users.ts'
import { test } from '../harness.ts'

const bytes = (...b: number[]) => Uint8Array.from(b)
const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0))
const request = (cmd: number, host: string, port: number) => Uint8Array.from([5, cmd, 0, ...encodeAddress(host, port)])

test('socks5 greeting: methods offered, wrong version, no methods, truncated', () => {
  const g = parseGreeting(bytes(5, 2, Method.noAuth, Method.userPass))
  assert.equal(g.kind, 'done')
  assert.deepEqual(g.kind === 'done' && [...g.methods], [0, 2])
  assert.equal(g.kind === 'done' && g.used, 4)
  const v4 = parseGreeting(bytes(4, 1, 0))
  assert.equal(v4.kind, 'bad')
  assert.match(v4.kind === 'bad' ? v4.why : '', /SOCKS4/)
  const http = parseGreeting(ascii('CONNECT x:1 HTTP/1.1'))
  assert.match(http.kind === 'bad' ? http.why : '', /HTTP request/)
  assert.match((parseGreeting(bytes(5, 0)) as { why: string }).why, /NMETHODS 0/)
  assert.equal(parseGreeting(bytes(5, 3, 0, 2)).kind, 'more')
  assert.equal(parseGreeting(bytes()).kind, 'more')
})

test('socks5 username/password: fields, wrong version, zero lengths, truncated', () => {
  const u = parseUserPass(bytes(1, 3, 97, 98, 99, 2, 120, 121, 9))
  assert.equal(u.kind, 'done')
  if (u.kind === 'done') {
    assert.equal(String.fromCharCode(...u.user), 'abc')
    assert.equal(String.fromCharCode(...u.password), 'xy')
    assert.equal(u.used, 8, 'the byte after the message is not consumed')
  }
  assert.equal(parseUserPass(bytes(5, 1, 97, 1, 98)).kind, 'bad')
  const empty = parseUserPass(bytes(1, 0, 0))
  assert.ok(empty.kind === 'done' && empty.user.length === 0 && empty.password.length === 0, 'empty fields parse; the check refuses them')
  assert.equal(parseUserPass(bytes(1, 3, 97, 98)).kind, 'more')
  assert.equal(parseUserPass(bytes(1, 1, 97, 5, 1)).kind, 'more')
})

test('socks5 request: CONNECT to IPv4, IPv6 and a name; command, version and address type refused with their replies', () => {
  const v4 = parseRequest(request(Command.connect, '192.0.2.9', 8080))
  assert.deepEqual(v4.kind === 'done' && v4.address, { type: AddressType.ipv4, host: '192.0.2.9', port: 8080 })
  const v6 = parseRequest(request(Command.connect, '2001:db8::1', 443))
  assert.deepEqual(v6.kind === 'done' && v6.address, { type: AddressType.ipv6, host: '2001:db8:0:0:0:0:0:1', port: 443 })
  const name = parseRequest(request(Command.udpAssociate, 'example.test', 53))
  assert.ok(name.kind === 'done' && name.command === Command.udpAssociate && name.address.host === 'example.test')
  const bind = parseRequest(request(Command.bind, '0.0.0.0', 0))
  assert.ok(bind.kind === 'done' && bind.command === Command.bind, 'BIND parses: the server answers it with 0x07')

  const cmd = parseRequest(Uint8Array.from([5, 9, 0, 1, 1, 2, 3, 4, 0, 80]))
  assert.deepEqual(cmd.kind === 'bad' && cmd.reply, Reply.commandNotSupported)
  const ver = parseRequest(Uint8Array.from([4, 1, 0, 1, 1, 2, 3, 4, 0, 80]))
  assert.deepEqual(ver.kind === 'bad' && ver.reply, Reply.failure)
  const atyp = parseRequest(Uint8Array.from([5, 1, 0, 7, 1, 2, 3, 4, 0, 80]))
  assert.deepEqual(atyp.kind === 'bad' && atyp.reply, Reply.addressTypeNotSupported)
  const zero = parseRequest(Uint8Array.from([5, 1, 0, 3, 0, 0, 80]))
  assert.ok(zero.kind === 'bad' && zero.reply === Reply.addressTypeNotSupported && /length 0/.test(zero.why))
  // A 255-byte name parses (the length byte allows it); it is not a host name, which the connector says.
  const long = 'a'.repeat(255)
  const l = parseRequest(request(Command.connect, long, 80))
  assert.ok(l.kind === 'done' && l.address.host === long)
  assert.ok('why' in destinationOf(l.kind === 'done' ? l.address : ({} as never)))
})

test('socks5 destinations: canonical text for the stream; names checked so nothing but a host name reaches it', () => {
  assert.deepEqual(destinationOf({ type: AddressType.ipv6, host: '0:0:0:0:0:0:0:1', port: 22 }), { dst: '[::1]:22', host: '::1' })
  assert.deepEqual(destinationOf({ type: AddressType.domain, host: 'Web.Test', port: 80 }), { dst: 'web.test:80', host: 'web.test' })
  assert.deepEqual(destinationOf({ type: AddressType.domain, host: '127.0.0.1', port: 80 }), { dst: '127.0.0.1:80', host: '127.0.0.1' })
  for (const bad of ['a:b', '[::1]', 'x y', 'a/b', 'user@host', '', '..', 'a'.repeat(64) + '.test']) {
    assert.ok('why' in destinationOf({ type: AddressType.domain, host: bad, port: 80 }), `'${bad}' refused`)
  }
  assert.ok('why' in destinationOf({ type: AddressType.ipv4, host: '10.0.0.1', port: 0 }), 'port 0')
  // UTF-8 names become punycode; bytes that are not UTF-8 are refused.
  const idn = String.fromCharCode(...new TextEncoder().encode('bücher.test'))
  assert.deepEqual(destinationOf({ type: AddressType.domain, host: idn, port: 80 }), { dst: 'xn--bcher-kva.test:80', host: 'xn--bcher-kva.test' })
  assert.ok('why' in destinationOf({ type: AddressType.domain, host: '\xff\xfe', port: 80 }))
})

test('socks5 replies and UDP headers: encoded as RFC 1928 lays them out, and read back', () => {
  assert.deepEqual([...encodeReply(Reply.succeeded, { host: '10.0.0.2', port: 40122 })], [5, 0, 0, 1, 10, 0, 0, 2, 0x9c, 0xba])
  assert.deepEqual([...encodeReply(Reply.notAllowed)], [5, 2, 0, 1, 0, 0, 0, 0, 0, 0])
  assert.equal(encodeReply(0, { host: '::1', port: 1 }).length, 3 + 1 + 16 + 2)
  for (const [host, port] of [['127.0.0.1', 53], ['::ffff:1.2.3.4', 9], ['fe80::1', 65535], ['dns.test', 853]] as const) {
    const data = ascii('payload')
    const datagram = new Uint8Array([...encodeUdpHeader(host, port), ...data])
    const h = parseUdpHeader(datagram)
    assert.equal(h.kind, 'done')
    if (h.kind === 'done') {
      assert.equal(h.frag, 0)
      assert.equal(h.address.port, port)
      assert.deepEqual([...datagram.subarray(h.dataAt)], [...data])
    }
  }
  assert.equal(parseUdpHeader(bytes(0, 0, 0)).kind, 'bad')
  assert.equal(parseUdpHeader(bytes(1, 0, 0, 1, 1, 2, 3, 4, 0, 80)).kind, 'bad', 'reserved bytes')
  assert.equal(parseUdpHeader(bytes(0, 0, 0, 1, 1, 2)).kind, 'bad', 'cut inside the address')
  assert.equal(parseUdpHeader(bytes(0, 0, 0, 3, 0, 0, 80)).kind, 'bad', 'empty name')
  const frag = parseUdpHeader(bytes(0, 0, 2, 1, 1, 2, 3, 4, 0, 80, 9))
  assert.ok(frag.kind === 'done' && frag.frag === 2, 'FRAG is reported; the association drops it')
})

const hostArb = fc.oneof(
  fc.ipV4(),
  fc.ipV6().filter((h) => !h.includes('.')),
  fc.domain().filter((d) => d.length <= 255),
)

test('socks5 properties: random bytes give more, bad or done (never a throw or a read past the end); every prefix of a valid message is more', () => {
  for (const parse of [parseGreeting, parseUserPass, parseRequest]) {
    fc.assert(fc.property(fc.uint8Array({ maxLength: SOCKS_MAX_MESSAGE + 8 }), (b) => {
      const r = parse(b)
      assert.ok(['more', 'bad', 'done'].includes(r.kind))
      if (r.kind === 'done') assert.ok(r.used <= b.length && r.used <= SOCKS_MAX_MESSAGE)
    }), { numRuns: 3000 })
  }
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
    const r = parseUdpHeader(b)
    if (r.kind === 'done') assert.ok(r.dataAt <= b.length)
  }), { numRuns: 3000 })
  fc.assert(fc.property(fc.constantFrom(Command.connect, Command.bind, Command.udpAssociate), hostArb, fc.integer({ min: 0, max: 65535 }), (cmd, host, port) => {
    const msg = request(cmd, host, port)
    const whole = parseRequest(msg)
    assert.ok(whole.kind === 'done' && whole.used === msg.length && whole.address.port === port)
    for (let cut = 0; cut < msg.length; cut++) assert.equal(parseRequest(msg.subarray(0, cut)).kind, 'more', `cut at ${cut}`)
  }), { numRuns: 500 })
  fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 255 }), fc.uint8Array({ maxLength: 255 }), (user, password) => {
    const msg = Uint8Array.from([1, user.length, ...user, password.length, ...password])
    const r = parseUserPass(msg)
    assert.ok(r.kind === 'done' && r.used === msg.length)
    for (let cut = 0; cut < msg.length; cut++) assert.equal(parseUserPass(msg.subarray(0, cut)).kind, 'more')
  }), { numRuns: 300 })
})

const head = (s: string) => parseConnectHead(ascii(s))

test('http CONNECT: the request line, Proxy-Authorization, the bytes after the head left for the tunnel', () => {
  const text = 'CONNECT web.test:443 HTTP/1.1\r\nHost: web.test:443\r\nProxy-Authorization: Basic YWxpY2U6czNjcjN0\r\n\r\n'
  const r = head(`${text}\x16\x03\x01`)
  assert.equal(r.kind, 'done')
  if (r.kind === 'done') {
    assert.deepEqual(r.request, { authority: 'web.test:443', version: 'HTTP/1.1', proxyAuthorization: 'Basic YWxpY2U6czNjcjN0' })
    assert.equal(r.used, text.length)
  }
  const lf = head('CONNECT [::1]:22 HTTP/1.0\nUser-Agent: x\n\n')
  assert.ok(lf.kind === 'done' && lf.request.authority === '[::1]:22', 'bare LF line ends are accepted (RFC 9112 2.2)')
  assert.equal(head('CONNECT web.test:443 HTTP/1.1\r\nHost: x\r\n').kind, 'more')
  const creds = basicCredentials('Basic YWxpY2U6czNjcjN0')
  assert.deepEqual(creds && [new TextDecoder().decode(creds.user), new TextDecoder().decode(creds.password)], ['alice', 's3cr3t'])
  assert.equal(basicCredentials('Bearer abc'), undefined)
  assert.equal(basicCredentials('Basic !!!'), undefined)
  assert.equal(basicCredentials('Basic YWxpY2U='), undefined, 'no colon')
})

test('http CONNECT: malformed lines and headers get 400, other methods 405, oversized heads 431; early answers for a wrong first line', () => {
  const status = (s: string) => {
    const r = head(s)
    return r.kind === 'bad' ? r.status : r.kind
  }
  assert.equal(status('GET http://web.test/ HTTP/1.1\r\n\r\n'), 405)
  assert.equal(status('GET http://web.test/ HT'), 405, 'answered before the head is complete')
  assert.equal(status('\x05\x01\x00'), 400, 'a SOCKS greeting')
  assert.equal(status('connect web.test:443 HTTP/1.1\r\n\r\n'), 405, 'methods are case-sensitive')
  assert.equal(status('CONNECT web.test:443\r\n\r\n'), 400, 'no version')
  assert.equal(status('CONNECT web.test:443 HTTP/2.0\r\n\r\n'), 400)
  assert.equal(status('CONNECT  web.test:443 HTTP/1.1\r\n\r\n'), 400, 'two spaces')
  assert.equal(status('CONNECT web.test:443 HTTP/1.1\r\nNo colon here\r\n\r\n'), 400)
  assert.equal(status('CONNECT web.test:443 HTTP/1.1\r\nBad Name: x\r\n\r\n'), 400)
  assert.equal(status('CONNECT web.test:443 HTTP/1.1\r\nX: a\r\n folded\r\n\r\n'), 400)
  assert.equal(status('CONNECT web.test:443 HTTP/1.1\r\nX: a\x00b\r\n\r\n'), 400)
  assert.equal(status('CONNECT web.test:443 HTTP/1.1\r\nProxy-Authorization: a\r\nProxy-Authorization: b\r\n\r\n'), 400)
  assert.equal(status(`CONNECT web.test:443 HTTP/1.1\r\n${'X-A: b\r\n'.repeat(65)}\r\n`), 431)
  assert.equal(status(`CONNECT web.test:443 HTTP/1.1\r\nX: ${'a'.repeat(CONNECT_MAX_HEAD)}`), 431)
  const text = new TextDecoder().decode(encodeResponse(407, 'x'))
  assert.match(text, /^HTTP\/1\.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="edgerelay"/)
  assert.match(text, /Content-Length: 2\r\nConnection: close\r\n\r\nx\n$/)
  assert.equal(new TextDecoder().decode(encodeResponse(200)), 'HTTP/1.1 200 Connection established\r\n\r\n')
})

test('http CONNECT property: random heads give more, bad (with a 4xx) or done, never a throw; done never claims more bytes than given', () => {
  const line = fc.stringMatching(/^[A-Za-z0-9:\-. \t\x00-\x1f\x7f-\xff]{0,40}$/)
  fc.assert(fc.property(fc.array(line, { maxLength: 8 }), fc.constantFrom('\r\n', '\n'), (lines, eol) => {
    const b = ascii(lines.join(eol) + eol + eol)
    const r = parseConnectHead(b)
    if (r.kind === 'bad') assert.ok(r.status >= 400 && r.status < 500)
    if (r.kind === 'done') assert.ok(r.used <= b.length)
  }), { numRuns: 3000 })
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
    const r = parseConnectHead(b)
    assert.ok(['more', 'bad', 'done'].includes(r.kind))
  }), { numRuns: 3000 })
})

test('--proxy-users: user:password lines, comments, a colon in the password; wrong entries refused with the line; checks', () => {
  const users = ProxyUsers.parse('# proxies\nalice:s3:cr3t\n\n bob:pw \n', 'users.txt')
  const enc = (s: string) => new TextEncoder().encode(s)
  assert.equal(users.size, 2)
  assert.ok(users.check(enc('alice'), enc('s3:cr3t')))
  assert.ok(users.check(enc('bob'), enc('pw')))
  assert.equal(users.check(enc('alice'), enc('s3:cr3')), false)
  assert.equal(users.check(enc('alice'), enc('pw')), false, 'another user\'s password')
  assert.equal(users.check(enc(''), enc('')), false)
  assert.throws(() => ProxyUsers.parse('alice', 'f'), /f line 1: expected user:password/)
  assert.throws(() => ProxyUsers.parse('a:b\na:c', 'f'), /listed twice/)
  assert.throws(() => ProxyUsers.parse('a:', 'f'), /empty password/)
  assert.throws(() => ProxyUsers.parse(`a:${'x'.repeat(256)}`, 'f'), /at most 255 bytes/)
  assert.throws(() => ProxyUsers.parse('# none\n', 'f'), /no user:password line/)
})
