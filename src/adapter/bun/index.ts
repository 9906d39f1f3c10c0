/**
 * @module
 * The Bun adapter: Bun.udpSocket for UDP (the measured fast path); node:net and node:dns for TCP
 * and lookups (they work on Bun, and node:tls builds on node:net).
 */
import type { Runtime } from '../types.ts'
import { interfaceIndex, networkInterfaces } from '../node/interfaces.ts'
import { bindMulticast } from './multicast.ts'
import { lookup } from '../node/dns.ts'
import { connectTcp, listenTcp } from '../node/tcp.ts'
import { connectTls, listenTls } from '../node/tls.ts'
import { bindUdp } from './udp.ts'

export const bunRuntime: Runtime = {
  name: 'bun',
  // ipv6Only via Bun.udpSocket's numeric flags; Bun appends %ifname to scoped sources itself.
  capabilities: { udpIpv6Only: true, keepsZoneOnReceive: true },
  bindUdp,
  listenTcp,
  connectTcp,
  // HTTP, WebSocket and HTTP/2 load on first use: a tcp/udp half never parses hono or ws.
  serveHttp: async (o) => (await import('./http.ts')).serveHttp(o),
  connectWebSocket: async (o) => (await import('../node/ws-client.ts')).connectWebSocket(o),
  serveHttp2: async (o) => (await import('../node/http2.ts')).serveHttp2(o),
  connectHttp2: async (o) => (await import('../node/http2.ts')).connectHttp2(o),
  readStatic: async (root, path) => (await import('../node/static.ts')).readStatic(root, path),
  listenTls,
  connectTls,
  lookup,
  networkInterfaces,
  interfaceIndex,
  bindMulticast,
}
