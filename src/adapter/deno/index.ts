/**
 * @module
 * The Deno adapter: Deno.listenDatagram for UDP (needs --unstable-net, else node:dgram); node:net
 * and node:dns for TCP and lookups (node:tls, socket activation and verbatim DNS order need them).
 */
import type { Runtime } from '../types.ts'
import { interfaceIndex, networkInterfaces } from '../node/interfaces.ts'
import { bindMulticast } from './multicast.ts'
import { lookup } from '../node/dns.ts'
import { listenTcp } from '../node/tcp.ts'
import { connectTcp } from './tcp.ts'
import { connectTls, listenTls } from '../node/tls.ts'
import { bindUdp, hasNativeUdp } from './udp.ts'

export const denoRuntime: Runtime = {
  name: 'deno',
  capabilities: {
    // Deno.listenDatagram has no ipv6Only; the node:dgram fallback honours it.
    udpIpv6Only: !hasNativeUdp,
    // Deno drops the zone on both paths; ./udp.ts restores it only for sockets bound to a zoned
    // link-local address, so the core must not count on it.
    keepsZoneOnReceive: false,
  },
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
