import assert from 'node:assert/strict'
import { test, waitFor } from '../harness.ts'
import { echoServer, exchange, httpServer, sha256 } from '../helpers/tcp-streams.ts'
import { RECORDS, dig, startDnsmasq } from '../helpers/dns.ts'
import { half } from '../helpers/halves.ts'
import { rawWebSocket } from '../helpers/raw-ws.ts'
import { wrongTokenStorm } from '../helpers/edge-storm.ts'
import { CLI, ROOT, cleanExit, startOnFreePort, startOnFreePorts } from '../helpers/processes.ts'

// The Deno Deploy entry (examples/deno-deploy/main.ts, `export default { fetch }`) under
// `deno serve`, as a hop: dig → near half (ws/client, this runtime's CLI) → deno serve (ws/server
// in, tcp/client out, through src/adapter/edge) → far half (tcp/server → udp/broadcast) → dnsmasq.

test('dig through a Deno Deploy style entry started with deno serve', async (t) => {
  const dns = await startDnsmasq(t)
  const far = await half(t, { in: 'tcp/server:127.0.0.1:0', out: `udp/broadcast:127.0.0.1:${dns}`, token: 'edge-secret' })
  const farPort = far.inAddresses()[0]!.port
  const { proc: edge, port: edgePort } = await startOnFreePort(t, (edgePort) => ['env', `EDGERELAY_OUT=tcp/client:127.0.0.1:${farPort}`, 'EDGERELAY_TOKEN=edge-secret',
    `${ROOT}node_modules/.bin/deno`, 'serve', '-A', '--host', '127.0.0.1', '--port', String(edgePort), 'examples/deno-deploy/main.ts'], /Listening on/, { timeoutMs: 20_000 })
  const health = await fetch(`http://127.0.0.1:${edgePort}/healthz`)
  assert.equal(health.status, 200)
  assert.equal(((await health.json()) as { subprotocol: string }).subprotocol, 'edgerelay.v1.protobuf')
  const { proc: near, port: nearPort } = await startOnFreePort(t, (nearPort) => [...CLI[t.runtime], '--in', `udp/listen:127.0.0.1:${nearPort}`, '--out', `ws/client:ws://127.0.0.1:${edgePort}/tunnel`, '--token', 'edge-secret'], /connected to/)
  assert.equal(await dig(nearPort, 'host.example'), RECORDS['host.example'])
  assert.equal(await dig(nearPort, 'other.example'), RECORDS['other.example'])
  // A wrong token is refused by the same negotiation as the CLI's ws/server.
  const refused = await rawWebSocket(t, edgePort, { path: '/tunnel', protocols: ['edgerelay.v1.protobuf'], headers: { authorization: 'Bearer wrong' } })
  assert.equal(refused.status, 401)
  await wrongTokenStorm(edgePort, far, edge.output, async () => assert.equal(await dig(nearPort, 'other.example'), RECORDS['other.example']))
  assert.ok(cleanExit(await near.stop(), near.output(), t.runtime), near.output())
  assert.match(edge.output(), /ws\/server.*peer .* connected/)
}, { timeout: 40_000 })

test('TCP streams with the Deno Deploy entry as the far half (tcp/dial through Deno.connect, within EDGERELAY_ALLOW); a name that leads into loopback is refused after connecting, before any byte is relayed', async (t) => {
  const web = await httpServer(t, 200_000)
  const echo = await echoServer(t)
  const { proc: edge, port: edgePort } = await startOnFreePort(t, (edgePort) => ['env', 'EDGERELAY_OUT=tcp/dial', `EDGERELAY_ALLOW=127.0.0.1:${web.port},localhost:${echo.port}`, 'EDGERELAY_TOKEN=edge-secret',
    `${ROOT}node_modules/.bin/deno`, 'serve', '-A', '--host', '127.0.0.1', '--port', String(edgePort), 'examples/deno-deploy/main.ts'], /Listening on/, { timeoutMs: 20_000 })
  const { proc: near, ports } = await startOnFreePorts(t, 2, ([a, b]) => [...CLI[t.runtime],
    '--in', `tcp/listen:127.0.0.1:${a},to=127.0.0.1:${web.port}`, '--in', `tcp/listen:127.0.0.1:${b},to=localhost:${echo.port}`,
    '--out', `ws/client:ws://127.0.0.1:${edgePort}/tunnel`, '--token', 'edge-secret'], /connected to/)
  const got = await exchange(ports[0]!, new TextEncoder().encode('GET /body HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'))
  const bodyAt = got.indexOf('\r\n\r\n') + 4
  assert.match(got.subarray(0, bodyAt).toString(), /^HTTP\/1.1 200/)
  assert.equal(sha256(got.subarray(bodyAt)), sha256(web.body))
  await assert.rejects(exchange(ports[1]!, new TextEncoder().encode('hello')), /ECONNRESET|no end|socket hang up/i)
  await waitFor(() => /refused localhost:\d+ .*it reached (127\.0\.0\.1|::1): .*is a loopback address/.test(edge.output()), 'the edge to refuse the name by the address it reached')
  // The connection was made (that is how the address became known) and closed with nothing relayed.
  assert.equal(echo.accepted, 1)
  await waitFor(() => echo.endings.length === 1, 'the refused connection to close')
  assert.ok(cleanExit(await near.stop(), near.output(), t.runtime), near.output())
}, { timeout: 40_000 })
