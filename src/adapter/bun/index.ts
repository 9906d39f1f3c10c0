/**
 * @module
 * The Bun adapter: Bun.udpSocket for UDP and multicast (the measured fast path); everything else is
 * the node:* implementation, which Bun runs as is (node:tls builds on node:net). HTTP and WebSocket
 * too: Bun.serve has no hook for a raw connection, so it could neither refuse one past the half's
 * limits nor close one that never sends a request (docs/runtimes.md#websocket).
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
}

/** This runtime's adapter under the name every runtime's index exports (package.json `#runtime`). */
export { bunRuntime as runtime }
