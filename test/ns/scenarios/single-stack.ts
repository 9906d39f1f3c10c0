/**
 * Runs inside the IPv4-only or IPv6-only namespace of test/ns/single-stack.test.ts (argument
 * `v4` or `v6`): wildcards start without the missing family and say so (S5, F5), an address of
 * the missing family is a ListenError, and a client to a dual-stack name still connects.
 */
import { check, echoDevice, finish, half, request, tcpConnects, waitForLine } from './lib.ts'

const only = process.argv[2] === 'v6' ? 6 : 4
const loopback = only === 4 ? '127.0.0.1' : '::1'
const other = only === 4 ? '[::1]' : '127.0.0.1'

await check('tcp-star', async () => {
  const device = await echoDevice().catch(() => ({ port: 9 }))
  const h = await half({ in: 'tcp/server:*:0', out: `udp/broadcast:${only === 4 ? '127.0.0.1' : '[::1]'}:${device.port}` })
  const port = h.inAddresses()[0]!.port
  return { addresses: h.inAddresses().map((a) => a.address), warnings: h.lines.filter((l) => / W_/.test(l)).map((l) => l.replace(/^.* W_/, 'W_')), connects: await tcpConnects(loopback, port) }
})

await check('udp-star', async () => {
  const h = await half({ in: 'udp/listen:*:0', out: `udp/event:${only === 4 ? '127.0.0.1' : '[::1]'}:9` })
  return { addresses: h.inAddresses().map((a) => a.address), warnings: h.lines.filter((l) => / W_/.test(l)).map((l) => l.replace(/^.* W_/, 'W_')) }
})

await check('other-family-literal', async () => {
  return half({ in: `tcp/server:${other}:0`, out: 'udp/event:[::1]:9' }).then(() => 'listening?', (e) => ({ code: (e as { code: string }).code, message: (e as Error).message }))
})

await check('client-dual-name', async () => {
  // F5: no forcing; the missing family's attempt fails at once and the other connects.
  const far = await half({ in: `tcp/server:${only === 4 ? '127.0.0.1' : '[::1]'}:0`, out: `udp/event:${only === 4 ? '127.0.0.1' : '[::1]'}:9` })
  const port = far.inAddresses()[0]!.port
  const near = await half({ in: `udp/listen:${only === 4 ? '127.0.0.1' : '[::1]'}:0`, out: `tcp/client:dual.test:${port}` })
  const line = await waitForLine(near.lines, /connected to /, { timeoutMs: 5000 })
  return { line: line.replace(/^.*connected/, 'connected'), events: near.lines.filter((l) => /attempt-|winner/.test(l)).map((l) => l.replace(/^.*tcp\/client /, '')) }
})

void request
finish()
