import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { test, waitFor, type TestContext } from '../harness.ts'
import { echoServer, exchange, httpServer, pattern, sha256 } from '../helpers/tcp-streams.ts'
import { RECORDS, dig, startDnsmasq } from '../helpers/dns.ts'
import { half } from '../helpers/halves.ts'
import { withFreePorts } from '../helpers/with-free-ports.ts'
import { CLI, ROOT, cleanExit, run, startOnFreePort, startOnFreePorts, startProcess, type Proc } from '../helpers/processes.ts'
import { rawWebSocket } from '../helpers/raw-ws.ts'
import { wrongTokenStorm } from '../helpers/edge-storm.ts'

// The Cloudflare Worker (examples/edge) under `wrangler dev` (workerd from npm), offline on
// loopback, as a hop: dig → near half (ws/client, this runtime's CLI) → worker (ws/server in
// through WebSocketPair, tcp/client out through cloudflare:sockets connect()) → far half
// (tcp/server → udp/broadcast) → dnsmasq.

/** Every descendant of `pid` (workerd runs under wrangler), read from /proc. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)])
    } catch {
      // gone
    }
  }
  const out: number[] = []
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c)
      walk(c)
    }
  }
  walk(pid)
  return out
}

/** Stops wrangler and the workerd it started (by their pids), whatever the test did. */
function stopTree(proc: Proc): () => Promise<void> {
  return async () => {
    const pid = proc.child.pid
    if (pid === undefined) return
    const tree = descendants(pid)
    await proc.stop('SIGTERM')
    // Given 3 s to exit on their own; what is left then is killed.
    await waitFor(() => !tree.some((p) => existsSync(`/proc/${p}`)), 'wrangler and workerd to exit', 3000).catch(() => {})
    for (const p of tree) {
      try {
        process.kill(p, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  }
}

/** `wrangler dev` of examples/edge on a free loopback port with these Worker variables; its port and process. */
async function startWrangler(t: TestContext, vars: string[]): Promise<{ port: number; proc: Proc }> {
  const state = mkdtempSync(join(tmpdir(), 'edgerelay-wrangler-'))
  t.defer(() => rmSync(state, { recursive: true, force: true }))
  return withFreePorts(t, 1, async ([edgePort], t) => {
    // Offline and quiet: no Request.cf download, no metrics, no update check, logs in the temp dir.
    const edge = startProcess(t, ['env', 'CLOUDFLARE_CF_FETCH_ENABLED=false', 'WRANGLER_SEND_METRICS=false', 'WRANGLER_HIDE_BANNER=true', `WRANGLER_LOG_PATH=${state}`, 'NO_COLOR=1',
      `${ROOT}node_modules/.bin/wrangler`, 'dev', '--ip', '127.0.0.1', '--port', String(edgePort), '--persist-to', state,
      ...vars.flatMap((v) => ['--var', v])], { cwd: join(ROOT, 'examples/edge') })
    t.defer(stopTree(edge))
    await edge.waitFor(new RegExp(`Ready on http://127\\.0\\.0\\.1:${edgePort}`), 40_000)
    return { port: edgePort!, proc: edge }
  })
}

test('dig through the Cloudflare Worker under wrangler dev (workerd)', async (t) => {
  const dns = await startDnsmasq(t)
  const far = await half(t, { in: 'tcp/server:127.0.0.1:0', out: `udp/broadcast:127.0.0.1:${dns}`, token: 'worker-secret' })
  const farPort = far.inAddresses()[0]!.port
  const { port: edgePort, proc: edge } = await startWrangler(t, [`EDGERELAY_OUT:tcp/client:127.0.0.1:${farPort}`, 'EDGERELAY_TOKEN:worker-secret'])
  const bundle = readFileSync(join(ROOT, 'examples/edge/dist/worker.js'), 'utf8')
  assert.doesNotMatch(bundle, /(from|import\()\s*["']node:/, 'the worker bundle must not import Node built-ins')
  const health = await fetch(`http://127.0.0.1:${edgePort}/healthz`)
  assert.equal(health.status, 200)
  assert.equal(((await health.json()) as { subprotocol: string }).subprotocol, 'edgerelay.v1.protobuf')
  const { proc: near, port: nearPort } = await startOnFreePort(t, (nearPort) => [...CLI[t.runtime], '--in', `udp/listen:127.0.0.1:${nearPort}`, '--out', `ws/client:ws://127.0.0.1:${edgePort}/tunnel`, '--token', 'worker-secret'], /connected to/, { timeoutMs: 20_000 })
  assert.equal(await dig(nearPort, 'host.example', { tries: 2 }), RECORDS['host.example'])
  assert.equal(await dig(nearPort, 'other.example'), RECORDS['other.example'])
  assert.equal(await dig(nearPort, 'many.example'), RECORDS['many.example'])
  const refused = await rawWebSocket(t, edgePort, { path: '/tunnel', protocols: ['edgerelay.v1.protobuf'], headers: { authorization: 'Bearer wrong' } })
  assert.equal(refused.status, 401)
  await wrongTokenStorm(edgePort, far, edge.output, async () => assert.equal(await dig(nearPort, 'other.example'), RECORDS['other.example']))
  // Levels keep their console method: a refusal is a warning, a connect is not an error.
  assert.doesNotMatch(edge.output(), /\[ERROR\].*peer .* connected|ERROR.*INFO /)
  assert.ok(cleanExit(await near.stop(), near.output(), t.runtime), near.output())
}, { timeout: 90_000 })

test('TCP streams with the Worker as the far half (tcp/dial through connect(), within EDGERELAY_ALLOW): curl fetches a page through a near half\'s forwarded port and through its socks5/listen (--socks5-hostname), an echo exchange half-closes both ways, a destination not listed is refused', async (t) => {
  const web = await httpServer(t, 300_000)
  const echo = await echoServer(t)
  const { port: edgePort, proc: edge } = await startWrangler(t, ['EDGERELAY_OUT:tcp/dial', `EDGERELAY_ALLOW:127.0.0.1:${web.port},127.0.0.1:${echo.port}`, 'EDGERELAY_TOKEN:worker-secret'])
  const { proc: near, ports } = await startOnFreePorts(t, 4, ([a, b, c, d]) => [...CLI[t.runtime],
    '--in', `tcp/listen:127.0.0.1:${a},to=127.0.0.1:${web.port}`, '--in', `tcp/listen:127.0.0.1:${b},to=127.0.0.1:${echo.port}`, '--in', `tcp/listen:127.0.0.1:${c},to=127.0.0.1:9`,
    '--in', `socks5/listen:127.0.0.1:${d}`,
    '--out', `ws/client:ws://127.0.0.1:${edgePort}/tunnel`, '--token', 'worker-secret'], /connected to/, { timeoutMs: 20_000 })
  const file = join(mkdtempSync(join(tmpdir(), 'edgerelay-page-')), 'body')
  t.defer(() => rmSync(dirname(file), { recursive: true, force: true }))
  const page = await run(['curl', '-sS', '-m', '20', '-o', file, `http://127.0.0.1:${ports[0]}/body`], 25_000, {})
  assert.equal(page.code, 0, page.stderr)
  assert.equal(sha256(readFileSync(file)), sha256(web.body))
  // The same through the near half's SOCKS5 server, curl naming the destination (--socks5-hostname).
  const viaSocks = await run(['curl', '-sS', '-m', '20', '--socks5-hostname', `127.0.0.1:${ports[3]}`, '-o', file, `http://127.0.0.1:${web.port}/body`], 25_000, {})
  assert.equal(viaSocks.code, 0, viaSocks.stderr)
  assert.equal(sha256(readFileSync(file)), sha256(web.body))
  const refusedSocks = await run(['curl', '-sS', '-m', '10', '--socks5-hostname', `127.0.0.1:${ports[3]}`, `http://127.0.0.1:9/`], 15_000, {})
  assert.match(refusedSocks.stderr, /not allowed|Connection not allowed by ruleset|\(2\)/i, 'a destination the Worker refuses is SOCKS5 reply 2 (not allowed)')
  const sent = pattern(50_000, 3)
  const back = await exchange(ports[1]!, sent)
  assert.equal(sha256(back), sha256(sent), 'every byte echoed, then FIN answered with FIN through workerd')
  await waitFor(() => echo.endings.includes('end'), 'the echo server to see the FIN')
  const denied = await run(['curl', '-sS', '-m', '10', `http://127.0.0.1:${ports[2]}/`], 15_000, {})
  assert.notEqual(denied.code, 0, 'a destination --allow does not list gets nothing')
  await waitFor(() => /refused \(not_allowed\)/.test(near.output()), 'the near half to log the refusal')
  await waitFor(() => /tcp\/dial refused 127\.0\.0\.1:9 .*no --allow entry matches/.test(edge.output()), 'the Worker to log the refusal with the destination')
  assert.ok(cleanExit(await near.stop(), near.output(), t.runtime), near.output())
}, { timeout: 120_000 })
