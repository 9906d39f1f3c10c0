/**
 * @module
 * The Node.js adapter: node:dgram, node:net and node:dns.
 */
import process from 'node:process'
import type { Runtime } from '../../ports/runtime.ts'
import { interfaceIndex, networkInterfaces } from './interfaces.ts'
import { bindMulticast } from './multicast.ts'
import { lookup } from './dns.ts'
import { connectTcp, listenTcp } from './tcp.ts'
import { connectTls, listenTls } from './tls.ts'
import { startTls } from './starttls.ts'
import { bindUdp } from './udp.ts'
import { connectUdp } from './udp-connected.ts'
import { descriptorLimit } from './descriptors.ts'

/** node:net and node:dgram take `reusePort` from Node 22.12 (and 23.1) on. */
const nodeReusePort = ((major: number, minor: number) => major > 22 || (major === 22 && minor >= 12))(...(process.versions.node.split('.').map(Number) as [number, number]))

export const nodeRuntime: Runtime = {
  name: 'node',
  capabilities: { udpIpv6Only: true, keepsZoneOnReceive: true, inheritsSockets: true, startTls: true, reusePort: { tcp: nodeReusePort, udp: nodeReusePort } },
  bindUdp,
  connectUdp,
  listenTcp,
  connectTcp,
  // HTTP, WebSocket and HTTP/2 load on first use: a tcp/udp half never parses hono or ws.
  serveHttp: async (o) => (await import('./http.ts')).serveHttp(o),
  connectWebSocket: async (o) => (await import('./ws-client.ts')).connectWebSocket(o),
  serveHttp2: async (o) => (await import('./http2.ts')).serveHttp2(o),
  connectHttp2: async (o) => (await import('./http2.ts')).connectHttp2(o),
  readStatic: async (root, path) => (await import('./static.ts')).readStatic(root, path),
  listenTls,
  connectTls,
  // Imported eagerly: the plain socket must change hands in the same turn as the hello that agreed to it.
  startTls,
  lookup,
  networkInterfaces,
  interfaceIndex,
  bindMulticast,
  descriptorLimit,
}

/** This runtime's adapter under the name every runtime's index exports (package.json `#runtime`). */
export { nodeRuntime as runtime }
