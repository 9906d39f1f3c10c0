/**
 * One-way UDP packets/s through the runtime adapter: sender socket → receiver socket on 127.0.0.1,
 * both in this process, 2 s per payload size.
 *
 *   node --import tsx bench/udp-adapter.ts
 *   bun bench/udp-adapter.ts
 *   deno run -A --unstable-net bench/udp-adapter.ts
 *
 * `--adapter=node` measures the node:dgram adapter on the same runtime instead (the baseline the
 * Bun and Deno native paths are meant to beat).
 *
 * The sender keeps a window of datagrams in flight below what the receiver's default socket buffer
 * holds (Bun.udpSocket and Deno.listenDatagram cannot enlarge it), so the figure is delivered
 * throughput, not how fast datagrams can be dropped.
 */
import { setImmediate } from 'node:timers'
import { runtime as defaultRuntime } from '#runtime'
import type { Runtime } from '../src/ports/runtime.ts'
import { sleep } from '../test/helpers/timing.mjs'

const args = typeof process !== 'undefined' ? process.argv.slice(2) : []
const useNode = args.includes('--adapter=node')
const seconds = Number(args.find((a) => a.startsWith('--seconds='))?.slice(10) ?? 2)
const sizes = [64, 1200]

const rt: Runtime = useNode ? (await import('../src/adapter/node/index.ts')).nodeRuntime : defaultRuntime

async function measure(size: number): Promise<{ pps: number; lost: number; errors: number }> {
  // ~150 KB in flight: below the ~208 KiB default receive buffer even with per-packet overhead.
  const window = Math.max(8, Math.min(200, Math.floor(150_000 / (size + 1024))))
  let sent = 0
  let received = 0
  let counted = 0
  let lost = 0
  let errors = 0
  let running = true
  let counting = false
  let scheduled = false
  const payload = new Uint8Array(size).fill(0x5a)

  const receiver = await rt.bindUdp({
    address: '127.0.0.1',
    port: 0,
    family: 4,
    onMessage: () => {
      received++
      if (counting) counted++
      // Refill from a macrotask: refilling inside the callback keeps Bun's receive loop busy
      // forever (it reads until the socket is empty) and starves timers.
      if (running && !scheduled && sent - received <= window / 2) {
        scheduled = true
        setImmediate(fill)
      }
    },
    onError: () => errors++,
  })
  const sender = await rt.bindUdp({ address: '127.0.0.1', port: 0, family: 4, onMessage: () => {}, onError: () => errors++ })
  const port = receiver.local.port
  const fill = () => {
    scheduled = false
    while (sent - received < window) {
      sender.send(payload, port, '127.0.0.1')
      sent++
    }
  }

  // A datagram the kernel dropped would shrink the window forever: write such stalls off as lost.
  let lastReceived = -1
  const watchdog = setInterval(() => {
    if (received === lastReceived && sent > received) {
      lost += sent - received
      sent = received
      fill()
    }
    lastReceived = received
  }, 50)

  fill()
  await sleep(200) // warm-up
  counting = true
  const started = performance.now()
  await sleep(seconds * 1000)
  counting = false
  const elapsed = (performance.now() - started) / 1000
  running = false
  clearInterval(watchdog)
  await sleep(50)
  sender.close()
  receiver.close()
  return { pps: counted / elapsed, lost, errors }
}

const label = `${defaultRuntime.name} ${useNode ? 'node:dgram adapter' : `${rt.name} adapter`}`
for (const size of sizes) {
  const r = await measure(size)
  const extra = r.lost || r.errors ? ` (${r.lost} lost, ${r.errors} errors)` : ''
  console.log(`${label.padEnd(28)} ${String(size).padStart(5)} B  ${(r.pps / 1000).toFixed(1).padStart(7)} k pps${extra}`)
}
