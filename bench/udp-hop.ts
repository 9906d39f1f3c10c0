/**
 * The smallest UDP relay a runtime can run: socat's single hop (`UDP-LISTEN:p UDP:target`) written
 * with edgerelay's UDP adapter and nothing else, no tunnel, no codec. `npm run bench` measures it
 * next to socat to show what one JavaScript hop costs on each runtime: the floor under the tunnel,
 * which makes two such hops plus a TCP connection.
 *
 *   node --import tsx bench/udp-hop.ts LISTEN_PORT TARGET_PORT      (bun / deno run -A --unstable-net)
 *
 * Like socat without fork it serves one client: replies go to whoever sent the latest request.
 */
import { runtime as defaultRuntime } from '#runtime'

const [listenPort, targetPort] = (typeof process !== 'undefined' ? process.argv.slice(2) : []).map(Number)
if (!listenPort || !targetPort) throw new Error('usage: udp-hop.ts LISTEN_PORT TARGET_PORT')

const rt = defaultRuntime
let clientPort = 0
let clientAddress = ''
const upstream = await rt.bindUdp({
  address: '127.0.0.1',
  port: 0,
  family: 4,
  onMessage: (data) => {
    if (clientPort) listener.send(data, clientPort, clientAddress)
  },
})
const listener = await rt.bindUdp({
  address: '127.0.0.1',
  port: listenPort,
  family: 4,
  onMessage: (data, address, port) => {
    clientAddress = address
    clientPort = port
    upstream.send(data, targetPort, '127.0.0.1')
  },
})
console.log(`udp-hop on ${rt.name}: 127.0.0.1:${listenPort} -> 127.0.0.1:${targetPort}`)
