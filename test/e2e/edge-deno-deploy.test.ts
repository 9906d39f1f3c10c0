import assert from 'node:assert/strict'
import { test } from '../harness.ts'
import { RECORDS, dig, startDnsmasq } from '../helpers/dns.ts'
import { half } from '../helpers/halves.ts'
import { rawWebSocket } from '../helpers/raw-ws.ts'
import { CLI, ROOT, cleanExit, startOnFreePort } from '../helpers/processes.ts'

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
  assert.ok(cleanExit(await near.stop(), near.output(), t.runtime), near.output())
  assert.match(edge.output(), /ws\/server.*peer .* connected/)
}, { timeout: 40_000 })
