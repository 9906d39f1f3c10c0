/**
 * @module
 * The Deno adapter: Deno.listenDatagram for UDP (needs --unstable-net, else node:dgram), its own
 * TCP dial (keeps link-local zones); everything else is the node:* implementation (node:tls for
 * mTLS, SNI and handshake timeouts; verbatim DNS order; node:http for HTTP and WebSocket, because
 * Deno.serve keeps idle connections forever, has no hook to refuse one past the half's limits, and
 * stopped with the process when descriptors ran out: docs/runtimes.md#websocket).
 */
import type { Runtime } from '../../ports/runtime.ts'
import { nodeRuntime } from '../node/index.ts'
import { bindMulticast } from './multicast.ts'
import { connectTcp } from './tcp.ts'
import { bindUdp, hasNativeUdp } from './udp.ts'

export const denoRuntime: Runtime = {
  ...nodeRuntime,
  name: 'deno',
  capabilities: {
    // Deno.listenDatagram has no ipv6Only; the node:dgram fallback honours it.
    udpIpv6Only: !hasNativeUdp,
    // Deno drops the zone on both paths; ./udp.ts restores it only for sockets bound to a zoned
    // link-local address, so the core must not count on it.
    keepsZoneOnReceive: false,
    // Deno.listen, Deno.listenDatagram and Deno's node:net take no inherited descriptor.
    inheritsSockets: false,
    // node:tls over a node:net socket (both ends) works on Deno as on Node.
    startTls: true,
    // node:net shares a port on Deno; the UDP paths here do not ask for it.
    reusePort: { tcp: true, udp: false },
  },
  bindUdp,
  bindMulticast,
  connectTcp,
}

/** This runtime's adapter under the name every runtime's index exports (package.json `#runtime`). */
export { denoRuntime as runtime }
