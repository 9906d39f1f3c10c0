/**
 * Memory per open idle stream on the runtime running this file (bench/streams.mjs runs it on node,
 * bun and deno): both halves in this process (tcp/listen → tcp tunnel → tcp/connect to an echo
 * server), 1,000 streams opened and left idle, the live heap measured after a full garbage
 * collection; minus the same for 1,000 plain connections to the echo server (the two end sockets
 * every stream has anyway). Prints one JSON line; perHalfKiB is the halves' share, halved.
 *
 *   node --expose-gc -C edgerelay-source --import tsx bench/stream-memory.ts
 *   bun --conditions=edgerelay-source bench/stream-memory.ts
 *   deno run -A --v8-flags=--expose-gc bench/stream-memory.ts
 */
import net from 'node:net'
import process from 'node:process'
import { startHalf } from '../mod.ts'

const N = 1000
const g = globalThis as { gc?: () => void; Bun?: { gc(full: boolean): void } }
const collect = () => {
  for (let i = 0; i < 3; i++) {
    if (g.Bun) g.Bun.gc(true)
    else g.gc?.()
  }
  return process.memoryUsage().heapUsed
}
if (!g.Bun && !g.gc) throw new Error('run with --expose-gc (node) or --v8-flags=--expose-gc (deno)')

const echo = net.createServer((s) => {
  s.on('data', (d) => s.write(d))
  s.on('error', () => {})
})
await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r))
const echoPort = (echo.address() as net.AddressInfo).port
const logger = () => {}
const far = await startHalf({ in: 'tcp/server:127.0.0.1:0', out: `tcp/connect:127.0.0.1:${echoPort}`, logger, maxStreams: 4096, limits: { maxTcpStreams: 4096 } })
const near = await startHalf({ in: 'tcp/listen:127.0.0.1:0', out: `tcp/client:127.0.0.1:${far.inAddresses()[0]!.port}`, logger, maxStreams: 4096, limits: { maxTcpStreams: 4096 } })
const nearPort = near.inAddresses()[0]!.port
await new Promise((r) => setTimeout(r, 300))

/** Opens N connections, each with one echo round trip, so both ends are fully set up. */
async function open(port: number): Promise<net.Socket[]> {
  const out: net.Socket[] = []
  for (let i = 0; i < N; i += 100) {
    out.push(...(await Promise.all(Array.from({ length: 100 }, () => new Promise<net.Socket>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' }, () => {
        s.write('x')
        s.once('data', () => resolve(s))
      })
    })))))
  }
  return out
}
const settle = () => new Promise((r) => setTimeout(r, 300))

for (const s of await open(nearPort)) s.destroy() // compile every path once
await settle()
const h0 = collect()
const plain = await open(echoPort)
await settle()
const h1 = collect()
const forwarded = await open(nearPort)
await settle()
const h2 = collect()
const endSockets = (h1 - h0) / N / 1024
const halvesKiB = (h2 - h1 - (h1 - h0)) / N / 1024
console.log(JSON.stringify({ streams: N, endSocketsKiB: endSockets, bothHalvesKiB: halvesKiB, perHalfKiB: halvesKiB / 2 }))
for (const s of [...plain, ...forwarded]) s.destroy()
await near.close()
await far.close()
echo.close()
process.exit(0)
