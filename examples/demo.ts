/**
 * `npm start`: a self-contained loopback demo. It starts a small UDP "device", a far half
 * (tcp/server → udp/broadcast) and a near half (udp/listen → tcp/client), then sends requests
 * through the tunnel and prints a one-line summary. Everything stays on 127.0.0.1.
 *
 *   node --import tsx examples/demo.ts [--codec avro] [--requests 500]
 *   bun examples/demo.ts
 *   deno run -A --unstable-net examples/demo.ts
 */
import { startHalf } from '../mod.ts'
import { runtime as defaultRuntime } from '#runtime'

const args = globalThis.process?.argv?.slice(2) ?? []
const arg = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback
}
const codec = arg('codec', 'protobuf')
const requests = Number(arg('requests', '200'))

const rt = defaultRuntime
const quiet = { logLevel: 'warn' as const }

// The "device": answers every datagram like an access controller answering a 64-byte request.
const device = await rt.bindUdp({
  address: '127.0.0.1', port: 0, family: 4,
  onMessage: (data, address, port) => device.send(Uint8Array.from([0x17, ...data.subarray(1)]), port, address),
})
const far = await startHalf({ in: 'tcp/server:127.0.0.1:0', out: `udp/broadcast:127.0.0.1:${device.local.port}`, codec, ...quiet })
const farPort = far.inAddresses()[0]!.port
const near = await startHalf({ in: 'udp/listen:127.0.0.1:0', out: `tcp/client:127.0.0.1:${farPort}`, codec, ...quiet })
const nearPort = near.inAddresses()[0]!.port
console.log(`edgerelay demo (${rt.name}, codec ${codec}): client → udp/listen 127.0.0.1:${nearPort} → tcp tunnel :${farPort} → udp/broadcast → device :${device.local.port}`)

// The "application": sends one 64-byte request at a time and waits for its reply.
let resolveReply: ((data: Uint8Array) => void) | undefined
const client = await rt.bindUdp({ address: '127.0.0.1', port: 0, family: 4, onMessage: (data) => resolveReply?.(data.slice()) })
const rtts: number[] = []
let lost = 0
for (let i = 0; i < requests; i++) {
  const request = new Uint8Array(64)
  request[0] = 0x17
  request[1] = 0x94
  new DataView(request.buffer).setUint32(4, i)
  const started = performance.now()
  const reply = await new Promise<Uint8Array | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), 2000)
    resolveReply = (data) => {
      clearTimeout(timer)
      resolve(data)
    }
    client.send(request, nearPort, '127.0.0.1')
  })
  if (reply && new DataView(reply.buffer, reply.byteOffset).getUint32(4) === i) rtts.push(performance.now() - started)
  else lost++
}

rtts.sort((a, b) => a - b)
const median = rtts.length ? rtts[Math.floor(rtts.length / 2)]! : NaN
const p99 = rtts.length ? rtts[Math.min(rtts.length - 1, Math.floor(rtts.length * 0.99))]! : NaN
console.log(`${rtts.length}/${requests} round trips through the tunnel, ${lost} lost, median ${median.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms`)

client.close()
await near.close()
await far.close()
device.close()
if (lost > 0) globalThis.process?.exit?.(1)
