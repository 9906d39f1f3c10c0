/**
 * The proxies from the command line, as README shows them: a near half with socks5/listen and
 * http-proxy/listen and --proxy-users, a far half with tcp/dial, --allow and a hosts file; curl
 * through both with credentials. A proxy on a non-loopback address without credentials does not
 * start (exit 2) and says what to do.
 */
import assert from 'node:assert/strict'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from '../harness.ts'
import { needPeers } from '../helpers/peers.ts'
import { CLI, ownLockfile, run, startOnFreePort, startOnFreePorts } from '../helpers/processes.ts'
import { FAR_HOSTS } from '../helpers/proxies.ts'
import { httpServer, sha256 } from '../helpers/tcp-streams.ts'

test('CLI: curl through socks5/listen and http-proxy/listen with --proxy-users, to a name the far half resolves from its hosts file', async (t) => {
  needPeers('curl')
  const cli = CLI[t.runtime]
  const dir = mkdtempSync(join(tmpdir(), 'edgerelay-proxies-'))
  t.defer(() => rmSync(dir, { recursive: true, force: true }))
  const users = join(dir, 'users')
  writeFileSync(users, '# who may use the proxies\nalice:s3cret\n')
  chmodSync(users, 0o600)
  const hosts = join(dir, 'hosts')
  writeFileSync(hosts, FAR_HOSTS)
  const web = await httpServer(t, 200_000)
  const far = await startOnFreePort(t, (p) => [...cli, '--in', `tcp/server:127.0.0.1:${p}`, '--out', 'tcp/dial', '--allow', `127.0.0.1:${web.port}`, '--resolver', `hosts:${hosts}`, ...ownLockfile(t)], /listening on/)
  const near = await startOnFreePorts(t, 2, ([s, h]) => [...cli, '--in', `socks5/listen:127.0.0.1:${s}`, '--in', `http-proxy/listen:127.0.0.1:${h}`, '--proxy-users', users, '--out', `tcp/client:127.0.0.1:${far.port}`, ...ownLockfile(t)], /http-proxy\/listen listening on/)
  await near.proc.waitFor(/connected to/)
  assert.match(near.proc.output(), /socks5\/listen listening on 127\.0\.0\.1:\d+; 1 user \(--proxy-users\)/)
  assert.doesNotMatch(near.proc.output(), /W_SECRET_FILE_READABLE/)
  const [socksPort, httpPort] = near.ports
  const url = `http://web.test:${web.port}/body`
  const socks = await run(['sh', '-c', `curl -sS --max-time 20 --noproxy '' --socks5-hostname 127.0.0.1:${socksPort} --proxy-user alice:s3cret ${url} | sha256sum`], 25_000)
  assert.equal(socks.stdout.split(' ')[0], sha256(web.body), socks.stderr)
  const viaHttp = await run(['sh', '-c', `curl -sS --max-time 20 --noproxy '' -p -x http://127.0.0.1:${httpPort} --proxy-user alice:s3cret ${url} | sha256sum`], 25_000)
  assert.equal(viaHttp.stdout.split(' ')[0], sha256(web.body), viaHttp.stderr)
  const refused = await run(['curl', '-sS', '--max-time', '10', '--noproxy', '', '--socks5-hostname', `127.0.0.1:${socksPort}`, url], 15_000)
  assert.notEqual(refused.code, 0, 'no credentials, no stream')
}, { timeout: 60_000 })

test('CLI: a proxy listener on 0.0.0.0 without --proxy-users exits 2 and names --proxy-users and ,noauth', async (t) => {
  const r = await run([...CLI[t.runtime], '--in', 'socks5/listen:0.0.0.0:1080', '--out', 'tcp/dial', '--allow', '127.0.0.1:1', ...ownLockfile(t)], 30_000)
  assert.equal(r.code, 2, r.stderr)
  assert.match(r.stderr, /socks5\/listen:0\.0\.0\.0:1080 listens on 0\.0\.0\.0, where others can reach it, and has no credentials: give --proxy-users <file> \(user:password lines\), or add ,noauth/)
}, { timeout: 40_000 })
