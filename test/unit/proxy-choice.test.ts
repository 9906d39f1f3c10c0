/**
 * Which proxy a tunnel client uses (src/net/dialers/): proxy URLs read as curl reads them, the
 * environment's variables per carrier in curl's order, NO_PROXY matching, and clear errors.
 */
import assert from 'node:assert/strict'
import { noProxyMatches } from '../../src/net/dialers/no-proxy.ts'
import { ProxyPolicy, proxyVariables } from '../../src/net/dialers/proxy-choice.ts'
import { parseProxyUrl, redact } from '../../src/net/dialers/proxy-url.ts'
import { test } from '../harness.ts'

test('proxy URLs: scheme (http when left out), percent-decoded credentials, port 1080 when left out, IPv6 in brackets', () => {
  const p = parseProxyUrl('http://us%40er:p%3Ass@proxy.example:3128/', '--proxy')
  assert.deepEqual([p.scheme, p.host, p.port, p.user, p.password], ['http', 'proxy.example', 3128, 'us@er', 'p:ss'])
  assert.equal(p.text, 'http://us%40er@proxy.example:3128', 'the password never appears in the text for logs')
  const bare = parseProxyUrl('10.0.0.1', 'ALL_PROXY')
  assert.deepEqual([bare.scheme, bare.host, bare.port, bare.source], ['http', '10.0.0.1', 1080, 'ALL_PROXY'])
  const six = parseProxyUrl('SOCKS5H://[::1]:1081', '--proxy')
  assert.deepEqual([six.scheme, six.host, six.port], ['socks5h', '::1', 1081])
  const fallback = parseProxyUrl('socks5://p:1080', 'x', { user: 'u', password: 'pw' })
  assert.deepEqual([fallback.user, fallback.password], ['u', 'pw'], 'credentials given apart fill a URL without any')
  const own = parseProxyUrl('socks5://a:b@p:1080', 'x', { user: 'u', password: 'pw' })
  assert.deepEqual([own.user, own.password], ['a', 'b'], "the URL's own credentials win")
})

test('proxy URLs that cannot be used are E_CONFIG naming where they came from, without the password', () => {
  const bad = (value: string, pattern: RegExp) => assert.throws(() => parseProxyUrl(value, 'HTTPS_PROXY'), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'E_CONFIG')
    assert.match(e.message, /^HTTPS_PROXY '/)
    assert.doesNotMatch(e.message, /secret/)
    assert.match(e.message, pattern)
    return true
  })
  bad('https://u:secret@p:443', /TLS to the proxy itself/)
  bad('socks4://p:1080', /SOCKS4 is not supported; use socks5/)
  bad('ftp://p:21', /unknown proxy scheme 'ftp:\/\/' \(known: http:\/\/, socks5:\/\/, socks5h:\/\//)
  bad('http://p:3128/path', /no path/)
  bad('http://u:secret@', /no proxy host/)
  bad('http://p:99999', /port/i)
  bad('http://p:3128,iface=eth0', /host:port only/)
})

test('redact hides a password, even one with @ in it, and leaves URLs without one alone', () => {
  assert.equal(redact('http://user:se@cret@proxy:3128'), 'http://user:***@proxy:3128')
  assert.equal(redact('user:pw@proxy:3128'), 'user:***@proxy:3128')
  assert.equal(redact('http://proxy:3128'), 'http://proxy:3128')
  assert.equal(redact('socks5://user@proxy:1080'), 'socks5://user@proxy:1080')
})

test("variables per carrier, first set wins, in curl's order (http_proxy lower case only)", () => {
  assert.deepEqual(proxyVariables(undefined), ['all_proxy', 'ALL_PROXY'])
  assert.deepEqual(proxyVariables('http'), ['http_proxy', 'all_proxy', 'ALL_PROXY'])
  assert.deepEqual(proxyVariables('https'), ['https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY'])
  assert.deepEqual(proxyVariables('ws'), ['ws_proxy', 'WS_PROXY', 'http_proxy', 'all_proxy', 'ALL_PROXY'])
  assert.deepEqual(proxyVariables('wss'), ['wss_proxy', 'WSS_PROXY', 'https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY'])
  const env = { HTTPS_PROXY: 'http://upper:1', https_proxy: 'http://lower:1', ALL_PROXY: 'socks5h://all:1', HTTP_PROXY: 'http://cgi:1' }
  const policy = new ProxyPolicy({ env })
  assert.equal(policy.choose('https', 'relay.example').proxy?.host, 'lower', 'lower case first')
  assert.equal(policy.choose('wss', 'relay.example').proxy?.source, 'https_proxy')
  assert.equal(policy.choose(undefined, 'relay.example').proxy?.host, 'all', 'tcp, tls, zmq, xmpp: ALL_PROXY only')
  assert.equal(policy.choose('http', 'relay.example').proxy?.host, 'all', 'HTTP_PROXY (upper case) is never read')
  assert.equal(policy.choose('ws', 'relay.example').proxy?.host, 'all')
  assert.equal(new ProxyPolicy({ env: { all_proxy: '', ALL_PROXY: 'socks5://x:1' } }).choose(undefined, 'h').proxy?.host, 'x', 'an empty variable counts as unset')
})

test('--proxy replaces the environment for every carrier; --proxy \'\' turns proxies off; NO_PROXY applies to both', () => {
  const env = { ALL_PROXY: 'socks5://env:1', NO_PROXY: 'internal.example' }
  const policy = new ProxyPolicy({ url: 'http://cli:3128', env })
  assert.equal(policy.choose(undefined, 'relay.example').proxy?.host, 'cli')
  assert.equal(policy.choose('wss', 'relay.example').proxy?.source, '--proxy')
  assert.equal(policy.choose(undefined, 'a.internal.example').proxy, undefined)
  assert.match(policy.choose(undefined, 'a.internal.example').why, /NO_PROXY lists a.internal.example/)
  assert.equal(new ProxyPolicy({ url: '', env }).choose(undefined, 'relay.example').proxy, undefined)
  assert.equal(new ProxyPolicy({ url: 'http://cli:3128', env, noProxy: '' }).choose(undefined, 'a.internal.example').proxy?.host, 'cli', '--noproxy replaces NO_PROXY')
  assert.equal(new ProxyPolicy({ env: { ALL_PROXY: 'socks5://env:1', no_proxy: 'relay.example', NO_PROXY: '' } }).choose(undefined, 'relay.example').proxy, undefined, 'no_proxy first')
  assert.throws(() => new ProxyPolicy({ url: 'socks4://x' }), /--proxy 'socks4:\/\/x': SOCKS4/, 'a --proxy that cannot be used fails at once')
  assert.throws(() => new ProxyPolicy({ env: { ALL_PROXY: 'ftp://x' } }).choose(undefined, 'h'), /ALL_PROXY 'ftp:\/\/x'/)
})

test('NO_PROXY: names and their subdomains, leading and trailing dots, addresses and CIDR blocks, * for all', () => {
  const list = ' example.com , .corp.example., 10.0.0.0/8,192.0.2.7, fd00::/8, [2001:db8::1], host.with:8080'
  for (const host of ['example.com', 'EXAMPLE.com.', 'www.example.com', 'corp.example', 'a.b.corp.example', '10.1.2.3', '192.0.2.7', 'fd12::1', '[fd12::1]', '2001:db8::1']) {
    assert.ok(noProxyMatches(list, host), `${host} should match`)
  }
  for (const host of ['notexample.com', 'example.org', 'xcorp.example', '11.0.0.1', '192.0.2.8', '2001:db8::2', 'host.with', '127.0.0.1', 'localhost']) {
    assert.equal(noProxyMatches(list, host), false, `${host} should not match`)
  }
  assert.ok(noProxyMatches('*', 'anything.example'))
  assert.ok(noProxyMatches(' * ', '10.0.0.1'))
  assert.equal(noProxyMatches('*.example.com', 'a.example.com'), false, 'wildcards are not patterns (curl reads *.x as a name)')
  assert.equal(noProxyMatches('localhost', '127.0.0.1'), false, 'names never match addresses: nothing is resolved')
  assert.equal(noProxyMatches('10.0.0.0/', '10.0.0.1'), false, 'a block without its length matches nothing')
  assert.equal(noProxyMatches(undefined, 'a'), false)
  assert.equal(noProxyMatches('', 'a'), false)
})
