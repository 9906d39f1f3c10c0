/**
 * Tunnel clients through the proxy the network imposes (README.md#proxies), against real proxies
 * from Debian: tinyproxy (HTTP CONNECT, Basic auth) and dante (SOCKS5, username/password), in
 * namespaces where the far half is reachable from the near half only through them
 * (test/helpers/proxy-net.ts). Both halves are the CLI on the runtime under test; curl fetches
 * a page served behind the far half through the near half's forwarded port.
 *
 * One run per runtime sets everything up and tries each case in turn; each test below checks one.
 */
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from '../harness.ts'
import { serverCertFor, testCerts } from '../helpers/certs.ts'
import { skipWithoutNamespaces } from '../helpers/netns.ts'
import { missingPeers } from '../helpers/peers.ts'
import { CLI, type Proc } from '../helpers/processes.ts'
import { ADDR, PROXY_USER, proxyNet, startDante, startTinyproxy, type ProxyNet } from '../helpers/proxy-net.ts'

const HTTP_PROXY_PORT = 8888
const SOCKS_PORT = 1080
/** Far half ports: plain tcp, ws, grpc; TLS tls, wss, grpc+tls; one dante refuses; one in the proxy namespace. */
const PORTS = { tcp: 9000, ws: 9002, grpc: 9003, tls: 9101, wss: 9102, grpcs: 9103, blocked: 9009, local: 9600 }
const PAGE = 'edgerelay through an upstream proxy'

type Runtime = TestContext['runtime']
type Result = { ok: true; value: { body?: string; output: string; code?: number | string } } | { ok: false; error: string }

interface Case {
  /** Connector and options of the near half (its --in is added). */
  args: string[]
  env?: Record<string, string>
  /** A case that must fail: the near half gives up (--max-retries 0) and its output is checked. */
  fails?: boolean
}

const CASES: Record<string, Case> = {
  'direct-unreachable': { args: ['--out', `tcp/client:relay.test:${PORTS.tcp}`], fails: true },
  'http-tcp': { args: ['--out', `tcp/client:relay.test:${PORTS.tcp}`, '--proxy', `http://proxy.test:${HTTP_PROXY_PORT}`, '--proxy-user-file', 'USERFILE'] },
  'socks5-tls': { args: ['--out', `tls/client:relay.test:${PORTS.tls}`, '--ca-cert', 'CA', '--proxy', `socks5://${PROXY_USER.user}:${PROXY_USER.password}@proxy.test:${SOCKS_PORT}`] },
  'https_proxy-wss': { args: ['--out', `ws/client:wss://relay.test:${PORTS.wss}/t`, '--ca-cert', 'CA'], env: { HTTPS_PROXY: `http://${PROXY_USER.user}:${PROXY_USER.password}@${ADDR.proxy}:${HTTP_PROXY_PORT}` } },
  'all_proxy-grpc': { args: ['--out', `grpc/client:relay.test:${PORTS.grpc}`], env: { ALL_PROXY: `socks5h://${ADDR.proxy}:${SOCKS_PORT}`, EDGERELAY_PROXY_USER: `${PROXY_USER.user}:${PROXY_USER.password}` } },
  'http_proxy-ws': { args: ['--out', `ws/client:ws://relay.test:${PORTS.ws}/t`], env: { http_proxy: `http://${PROXY_USER.user}:${PROXY_USER.password}@proxy.test:${HTTP_PROXY_PORT}` } },
  'https_proxy-grpc-tls': { args: ['--out', `grpc/client:relay.test:${PORTS.grpcs},tls`, '--ca-cert', 'CA'], env: { https_proxy: `socks5h://${PROXY_USER.user}:${PROXY_USER.password}@proxy.test:${SOCKS_PORT}` } },
  'http-wrong-password': { args: ['--out', `tcp/client:relay.test:${PORTS.tcp}`, '--proxy', `http://${PROXY_USER.user}:wrong@proxy.test:${HTTP_PROXY_PORT}`], fails: true },
  'socks5-wrong-password': { args: ['--out', `tcp/client:relay.test:${PORTS.tcp}`, '--proxy', `socks5h://${PROXY_USER.user}:wrong@proxy.test:${SOCKS_PORT}`], fails: true },
  'socks5-no-credentials': { args: ['--out', `tcp/client:relay.test:${PORTS.tcp}`, '--proxy', `socks5h://proxy.test:${SOCKS_PORT}`], fails: true },
  'http-refused': { args: ['--out', `tcp/client:relay.test:${PORTS.grpc}`, '--proxy', `http://proxy.test:${HTTP_PROXY_PORT}`, '--proxy-user-file', 'USERFILE'], fails: true },
  'socks5-refused': { args: ['--out', `tcp/client:relay.test:${PORTS.blocked}`, '--proxy', `socks5h://proxy.test:${SOCKS_PORT}`, '--proxy-user-file', 'USERFILE'], fails: true },
  'no_proxy-bypass': { args: ['--out', `tcp/client:${ADDR.proxy}:${PORTS.local}`], env: { ALL_PROXY: `http://proxy.test:${HTTP_PROXY_PORT}`, EDGERELAY_PROXY_USER: `${PROXY_USER.user}:${PROXY_USER.password}`, NO_PROXY: 'example.org, 10.1.0.0/24' } },
  'no_proxy-control': { args: ['--out', `tcp/client:${ADDR.proxy}:${PORTS.local}`], env: { ALL_PROXY: `http://proxy.test:${HTTP_PROXY_PORT}`, EDGERELAY_PROXY_USER: `${PROXY_USER.user}:${PROXY_USER.password}`, NO_PROXY: 'example.org' }, fails: true },
}

const runs = new Map<Runtime, Promise<Record<string, Result>>>()

function results(t: TestContext): Promise<Record<string, Result>> {
  let p = runs.get(t.runtime)
  if (!p) {
    p = (async () => {
      const cleanups: (() => unknown)[] = []
      const holder: TestContext = { ...t, defer: (fn) => cleanups.push(fn) }
      try {
        return await scenario(holder, t.runtime)
      } finally {
        for (const fn of cleanups.reverse()) await fn()
      }
    })()
    runs.set(t.runtime, p)
  }
  return p
}

function cli(runtime: Runtime, net: ProxyNet, name: string, args: string[]): string[] {
  return [...CLI[runtime], ...args, '--lockfile', join(net.dir, `${name}.pid`)]
}

async function scenario(t: TestContext, runtime: Runtime): Promise<Record<string, Result>> {
  const net = await proxyNet(t)
  const certs = testCerts()
  const relay = serverCertFor('relay-test', `DNS:relay.test,IP:${ADDR.server}`)
  const www = join(net.dir, 'www')
  mkdirSync(www)
  writeFileSync(join(www, 'index.html'), `${PAGE}\n`)
  const userFile = join(net.dir, 'proxy-user')
  writeFileSync(userFile, `${PROXY_USER.user}:${PROXY_USER.password}\n`, { mode: 0o600 })

  const web = net.start('server', ['python3', '-u', '-m', 'http.server', '8080', '--bind', ADDR.server, '--directory', www])
  await web.waitFor(/Serving HTTP/, 10_000)
  const to = `tcp/connect:${ADDR.server}:8080`
  const farPlain = net.start('server', cli(runtime, net, 'far-plain', ['--in', `tcp/server:${ADDR.server}:${PORTS.tcp}`, '--in', `ws/server:${ADDR.server}:${PORTS.ws}/t`, '--in', `grpc/server:${ADDR.server}:${PORTS.grpc}`, '--in', `tcp/server:${ADDR.server}:${PORTS.blocked}`, '--out', to]))
  const farTls = net.start('server', cli(runtime, net, 'far-tls', ['--in', `tls/server:${ADDR.server}:${PORTS.tls}`, '--in', `ws/server:${ADDR.server}:${PORTS.wss}/t`, '--in', `grpc/server:${ADDR.server}:${PORTS.grpcs}`, '--cert', relay.cert, '--key', relay.key, '--out', to]))
  const farLocal = net.start('proxy', cli(runtime, net, 'far-local', ['--in', `tcp/server:${ADDR.proxy}:${PORTS.local}`, '--out', to]))
  await Promise.all([
    farPlain.waitFor(new RegExp(`listening on ${ADDR.server}:${PORTS.blocked}`), 20_000),
    farTls.waitFor(new RegExp(`listening on ${ADDR.server}:${PORTS.grpcs}`), 20_000),
    farLocal.waitFor(/listening on/, 20_000),
  ])
  await startTinyproxy(net, HTTP_PROXY_PORT, [PORTS.tcp, PORTS.ws, PORTS.wss])
  await startDante(net, SOCKS_PORT, PORTS.blocked)

  const out: Record<string, Result> = {}
  let listen = 7000
  for (const [name, c] of Object.entries(CASES)) {
    const port = listen++
    const args = c.args.map((a) => (a === 'USERFILE' ? userFile : a === 'CA' ? certs.files.ca : a))
    const env = { ALL_PROXY: undefined, all_proxy: undefined, HTTPS_PROXY: undefined, https_proxy: undefined, http_proxy: undefined, NO_PROXY: undefined, no_proxy: undefined, ...c.env }
    let near: Proc | undefined
    try {
      near = net.start('client', cli(runtime, net, `near-${name}`, ['--in', `tcp/listen:127.0.0.1:${port}`, ...args, ...(c.fails ? ['--max-retries', '0'] : [])]), env)
      if (c.fails) {
        const code = await Promise.race([near.exited, new Promise<string>((r) => setTimeout(() => r('still running after 30 s'), 30_000))])
        out[name] = { ok: true, value: { code, output: near.output() } }
        continue
      }
      await near.waitFor(/connected to/, 30_000)
      const fetched = await net.run('client', ['curl', '-sS', '-m', '15', `http://127.0.0.1:${port}/index.html`], 20_000)
      out[name] = { ok: true, value: { body: fetched.stdout + fetched.stderr, output: near.output() } }
    } catch (err) {
      out[name] = { ok: false, error: `${(err as Error).message}\n${near?.output() ?? ''}` }
    } finally {
      await near?.stop('SIGKILL')
    }
  }
  return out
}

async function value(t: TestContext, name: string): Promise<{ body?: string; output: string; code?: number | string }> {
  const r = (await results(t))[name]
  assert.ok(r, `no case '${name}'`)
  if (!r.ok) assert.fail(`${name}: ${r.error}`)
  return r.value
}

const unavailable = () => skipWithoutNamespaces() || missingPeers('tinyproxy', 'danted', 'curl', 'openssl')
const ns = (name: string, fn: (t: TestContext) => Promise<void>) => test(name, fn, { timeout: 400_000, unavailable: unavailable() })

ns('without a proxy the far half is unreachable from the near half (the namespaces hold)', async (t) => {
  const v = await value(t, 'direct-unreachable')
  assert.equal(v.code, 6, v.output)
  assert.match(v.output, /ENETUNREACH|unreachable/i, v.output)
})

ns('tcp/client through tinyproxy (HTTP CONNECT, Basic auth from --proxy-user-file): curl fetches the page behind the far half', async (t) => {
  const v = await value(t, 'http-tcp')
  assert.match(v.body!, new RegExp(PAGE), v.output)
  assert.match(v.output, /reaching tcp\/client:relay.test:9000 through http:\/\/relayuser@proxy.test:8888 \(--proxy\)/, v.output)
})

ns('tls/client through dante (SOCKS5 with username/password from the URL, the name resolved here)', async (t) => {
  const v = await value(t, 'socks5-tls')
  assert.match(v.body!, new RegExp(PAGE), v.output)
  assert.match(v.output, /W_PROXY_PASSWORD_ON_COMMAND_LINE/, 'a password in --proxy is warned about')
  assert.doesNotMatch(v.output, new RegExp(PROXY_USER.password), 'the password is never logged')
})

ns('ws/client wss:// through tinyproxy named by HTTPS_PROXY: TLS runs through the proxy to the far half', async (t) => {
  const v = await value(t, 'https_proxy-wss')
  assert.match(v.body!, new RegExp(PAGE), v.output)
  assert.match(v.output, /\(HTTPS_PROXY\)/, v.output)
})

ns('grpc/client (h2c) through dante named by ALL_PROXY (socks5h: the proxy resolves relay.test), credentials from EDGERELAY_PROXY_USER', async (t) => {
  const v = await value(t, 'all_proxy-grpc')
  assert.match(v.body!, new RegExp(PAGE), v.output)
  assert.match(v.output, /\(ALL_PROXY\)/, v.output)
})

ns('ws/client ws:// through tinyproxy named by http_proxy', async (t) => {
  const v = await value(t, 'http_proxy-ws')
  assert.match(v.body!, new RegExp(PAGE), v.output)
  assert.match(v.output, /\(http_proxy\)/, v.output)
})

ns('grpc/client with tls through dante named by https_proxy', async (t) => {
  const v = await value(t, 'https_proxy-grpc-tls')
  assert.match(v.body!, new RegExp(PAGE), v.output)
  assert.match(v.output, /\(https_proxy\)/, v.output)
})

ns('a wrong password for tinyproxy is a clear error (exit 6), not a hang', async (t) => {
  const v = await value(t, 'http-wrong-password')
  assert.equal(v.code, 6, v.output)
  assert.match(v.output, /the HTTP proxy http:\/\/relayuser@proxy.test:8888 \(--proxy\) refused CONNECT relay.test:9000 \(401[^)]*\): it did not accept the user 'relayuser' with that password/, v.output)
  assert.doesNotMatch(v.output, /wrong@/, 'the password is never logged')
})

ns('a wrong password for dante is a clear error (exit 6)', async (t) => {
  const v = await value(t, 'socks5-wrong-password')
  assert.equal(v.code, 6, v.output)
  assert.match(v.output, /the SOCKS5 proxy socks5h:\/\/relayuser@proxy.test:1080 \(--proxy\) did not accept the user 'relayuser' with that password/, v.output)
})

ns('dante asking for credentials that were not given says where to give them', async (t) => {
  const v = await value(t, 'socks5-no-credentials')
  assert.equal(v.code, 6, v.output)
  assert.match(v.output, /refused us: it needs authentication: put a user name and password in the proxy URL/, v.output)
})

ns('tinyproxy refusing the destination port is a clear error naming the proxy and the destination', async (t) => {
  const v = await value(t, 'http-refused')
  assert.equal(v.code, 6, v.output)
  assert.match(v.output, /refused CONNECT relay.test:9003 \(403[^)]*\): its rules do not allow this destination or port/, v.output)
})

ns('dante refusing the destination by its rules is a clear error (SOCKS5 reply 2)', async (t) => {
  const v = await value(t, 'socks5-refused')
  assert.equal(v.code, 6, v.output)
  assert.match(v.output, /could not connect to relay.test:9009: connection not allowed by ruleset \(SOCKS5 reply 2\)/, v.output)
})

ns('NO_PROXY (a CIDR block) sends a client straight to its server, past ALL_PROXY', async (t) => {
  const v = await value(t, 'no_proxy-bypass')
  assert.match(v.body!, new RegExp(PAGE), v.output)
  assert.match(v.output, /connecting to tcp\/client:10.1.0.1:9600 directly \(NO_PROXY lists 10.1.0.1\)/, v.output)
})

ns('the same client without that NO_PROXY entry goes to the proxy, which refuses it (the control for the bypass)', async (t) => {
  const v = await value(t, 'no_proxy-control')
  assert.equal(v.code, 6, v.output)
  assert.match(v.output, /through http:\/\/relayuser@proxy.test:8888 \(ALL_PROXY\)/, v.output)
  assert.match(v.output, /refused CONNECT 10.1.0.1:9600 \(403/, v.output)
})
