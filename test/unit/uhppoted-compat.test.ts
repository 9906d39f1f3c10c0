/**
 * The pure parts of the uhppoted-tunnel drop-in: its TOML files (the fixtures are its own example
 * and documentation, see their headers), durations, --config forms, hex dumps, the token bucket,
 * ip/out's controller routing and the systemd unit.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { parseDuration } from '../../src/base/duration.ts'
import { hexDump } from '../../src/base/hex-dump.ts'
import { TokenBucket } from '../../src/core/rate-limit.ts'
import { controllerOf, parseRoute } from '../../src/connectors/ip-out.ts'
import { DEFAULT_CONFIG_FILE, loadConfig, splitConfigArg } from '../../src/cli/config.ts'
import { planUnit, unitWord } from '../../src/cli/daemonize.ts'
import { toHalfOptions } from '../../src/cli/half-options.ts'
import { test } from '../harness.ts'

const fixture = (name: string) => {
  const file = new URL(`../fixtures/uhppoted-tunnel/${name}`, import.meta.url)
  return { file: file.pathname, text: readFileSync(file, 'utf8') }
}

test('uhppoted-tunnel\'s example TOML: every section loads over [defaults], named by its table, none names a codec', () => {
  const { file, text } = fixture('uhppoted-tunnel.toml')
  const warnings: string[] = []
  const sections = loadConfig(text, file, undefined, (w) => warnings.push(w))
  assert.deepEqual(sections.map((s) => s.name), ['debug', 'host', 'client', 'reverse-host', 'reverse-client', 'tls-host', 'tls-client', 'http', 'https'])
  assert.deepEqual(warnings, [], 'every key of uhppoted-tunnel\'s own example is known')
  const client = sections.find((s) => s.name === 'client')!
  assert.equal(client.options['max-retries'], '32')
  assert.equal(client.options['udp-timeout'], '1s')
  assert.equal(client.options.label, 'qwerty')
  assert.equal(sections.find((s) => s.name === 'host')!.options.label, 'host')
  assert.ok(sections.every((s) => !s.namesCodec))
  // The TLS sections read ./ca.cert and friends: the e2e test runs them in a folder that has them.
  for (const s of sections.filter((x) => !x.name.startsWith('tls'))) toHalfOptions(s.options, `${file} [${s.name}]`)
})

test('documented keys: interfaces bind the connectors, [ip.controllers] routes, rate limits; an unknown key warns once naming it', () => {
  const { file, text } = fixture('documented-sections.toml')
  const [ip] = loadConfig(text, file, 'ip')
  assert.deepEqual(ip!.interfaces, { in: 'lo' })
  assert.deepEqual(ip!.controllers, { 405419896: 'udp::127.0.0.2:60005', 303986753: 'tcp::127.0.0.3:60005' })
  const settings = toHalfOptions(ip!.options, 'ip', { controllers: ip!.controllers, interfaces: ip!.interfaces })
  assert.equal(typeof settings.in === 'object' && 'text' in settings.in ? settings.in.text : settings.in, 'udp/listen::lo:127.0.0.1:60000')
  assert.equal(settings.out, 'ip/out:127.0.0.1:60005')
  assert.deepEqual(settings.rateLimit, { perSecond: 1, burst: 120 })
  assert.equal(settings.dumpPackets, true)
  const warnings: string[] = []
  loadConfig('[defaults]\nudp-timout = "1s"\n[a]\nin = "udp/listen:127.0.0.1:1"\nout = "tcp/client:127.0.0.1:2"\ncodek = "x"\n', 'f.toml', 'a', (w) => warnings.push(w))
  assert.deepEqual(warnings, [
    "f.toml [defaults]: unknown key 'udp-timout' ignored (uhppoted-tunnel ignores it silently; a typo?)",
    "f.toml [a]: unknown key 'codek' ignored (uhppoted-tunnel ignores it silently; a typo?)",
  ])
})

test('--config forms: file#section, file::section, #section (the default file), a file alone', () => {
  assert.deepEqual(splitConfigArg('/etc/t.toml#client'), { file: '/etc/t.toml', section: 'client' })
  assert.deepEqual(splitConfigArg('/etc/t.toml::client'), { file: '/etc/t.toml', section: 'client' })
  assert.deepEqual(splitConfigArg('#client'), { file: DEFAULT_CONFIG_FILE, section: 'client' })
  assert.deepEqual(splitConfigArg('t.toml'), { file: 't.toml', section: undefined })
})

test('durations: a bare number is refused with a hint (Go\'s flag parser refuses it), 0 and library numbers are fine', () => {
  assert.throws(() => parseDuration('5', 'udp-timeout'), /udp-timeout: '5' has no unit \(did you mean 5s or 5ms\?\)/)
  assert.throws(() => toHalfOptions({ in: 'udp/listen:127.0.0.1:1', out: 'tcp/client:127.0.0.1:2', 'udp-timeout': '5' }, 'x.toml [a]'), /x\.toml \[a\]: udp-timeout: '5' has no unit/)
  assert.equal(parseDuration('0', 'rescan'), 0)
  assert.equal(parseDuration(5, 'udpTimeout'), 5)
  assert.equal(parseDuration('1m30s', 'wait'), 90_000)
})

test('client-auth = "required" (uhppoted-tunnel\'s example) is read as true, and said so', () => {
  const notes: string[] = []
  const o = toHalfOptions({ in: 'udp/listen:127.0.0.1:1', out: 'tcp/client:127.0.0.1:2', 'client-auth': 'required' }, 'f [tls-host]', { note: (n) => notes.push(n) })
  assert.equal(o.tls?.clientAuth, true)
  assert.match(notes[0]!, /client-auth = "required" read as true/)
  assert.throws(() => toHalfOptions({ in: 'udp/listen:127.0.0.1:1', out: 'tcp/client:127.0.0.1:2', 'client-auth': 'maybe' }, 'f'), /client-auth must be true or false/)
})

test('hex dumps are Go\'s hex.Dump lines: offset, 16 bytes in two groups, the ASCII column', () => {
  const get = Uint8Array.from([0x17, 0x32, 0, 0, 0x78, 0x37, 0x2a, 0x18, ...new Uint8Array(8), 0x41, 0x42])
  assert.deepEqual(hexDump(get), [
    '00000000  17 32 00 00 78 37 2a 18  00 00 00 00 00 00 00 00  |.2..x7*.........|',
    '00000010  41 42                                             |AB|',
  ])
})

test('token bucket: the burst passes at once, then the rate, never more than the burst after idling', () => {
  let now = 0
  const bucket = new TokenBucket(2, 3, () => now)
  assert.deepEqual([1, 2, 3, 4].map(() => bucket.take()), [true, true, true, false])
  now = 500
  assert.equal(bucket.take(), true)
  assert.equal(bucket.take(), false)
  now = 100_000
  assert.deepEqual([1, 2, 3, 4].map(() => bucket.take()), [true, true, true, false])
  assert.throws(() => new TokenBucket(0, 1), RangeError)
})

test('ip/out routes 64-byte requests starting 0x17 by the little-endian serial at bytes 4-7', () => {
  const req = new Uint8Array(64)
  req.set([0x17, 0x20, 0, 0, 0x78, 0x37, 0x2a, 0x18])
  assert.equal(controllerOf(req), 405419896)
  assert.equal(controllerOf(req.subarray(0, 63)), undefined)
  assert.equal(controllerOf(Uint8Array.from([0x18, ...req.subarray(1)])), undefined)
  assert.equal(parseRoute('tcp::127.0.0.3:60000', 'x').transport, 'tcp')
  assert.equal(parseRoute('127.0.0.2:60000', 'x').transport, 'udp')
  assert.throws(() => parseRoute('udp::nonsense', 'ip controller 1'), /ip controller 1: controller route 'udp::nonsense'/)
})

test('daemonize: the unit runs the same command with absolute paths, honours --user, quotes what systemd would split', () => {
  const plan = planUnit({ config: 'tunnel.toml#client', label: 'qwerty', user: 'relay:relays', 'udp-timeout': '2s' }, '/srv/x', ['/usr/bin/node', '/opt/edgerelay/bin/edgerelay.mjs'])
  assert.equal(plan.name, 'uhppoted-tunnel-qwerty')
  assert.equal(plan.path, '/etc/systemd/system/uhppoted-tunnel-qwerty.service')
  assert.match(plan.text, /^ExecStart=\/usr\/bin\/node \/opt\/edgerelay\/bin\/edgerelay\.mjs --lockfile \/tmp\/uhppoted-tunnel-qwerty\.pid --config "\/srv\/x\/tunnel\.toml#client" --udp-timeout 2s --label qwerty$/m)
  assert.match(plan.text, /^User=relay$/m)
  assert.match(plan.text, /^Group=relays$/m)
  assert.equal(unitWord('a b%c$d'), '"a b%%c$$d"')
  assert.throws(() => planUnit({ config: '#client' }, '/'), /daemonize needs --label/)
})
