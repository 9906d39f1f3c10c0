/**
 * @module
 * The Bun adapter: Bun.udpSocket for UDP and multicast (the measured fast path) and Bun.serve for
 * HTTP/WebSocket; everything else is the node:* implementation, which Bun runs as is (node:tls
 * builds on node:net).
 */
import type { Runtime } from '../../ports/runtime.ts'
import { nodeRuntime } from '../node/index.ts'
import { bindMulticast } from './multicast.ts'
import { bindUdp } from './udp.ts'

export const bunRuntime: Runtime = {
  ...nodeRuntime,
  name: 'bun',
  // ipv6Only via Bun.udpSocket's numeric flags; Bun appends %ifname to scoped sources itself.
  // Bun's node:net and Bun.udpSocket take no inherited descriptor.
  // reusePort: node:net shares a port on Bun; Bun.udpSocket does not.
  capabilities: { udpIpv6Only: true, keepsZoneOnReceive: true, inheritsSockets: false, startTls: true, reusePort: { tcp: true, udp: false } },
  bindUdp,
  bindMulticast,
  // Loaded on first use: a tcp/udp half never parses hono.
  serveHttp: async (o) => (await import('./http.ts')).serveHttp(o),
}

/** This runtime's adapter under the name every runtime's index exports (package.json `#runtime`). */
export { bunRuntime as runtime }
