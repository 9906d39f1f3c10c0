/**
 * udp/listen and udp/event as --in: every local client (socket, address, port) is a flow; its
 * replies leave from the socket it sent to. udp/event sends one-way events instead of requests.
 * Which sockets are bound depends on the address, one module per start mode:
 *   `*`                      ./udp-listen/every-address.ts  one socket per local address, rescanned
 *   a name, a literal, `,wildcard`  ./udp-listen/resolved.ts  every resolved address (or one wildcard per family)
 *   a multicast group        ./udp-listen/multicast.ts      the group joined on its interface
 * and ./udp-listen/sockets.ts holds the sockets and flows they share.
 */
import { parseDuration } from '../base/duration.ts'
import { endpointOf, type ConnectorFactory, type HalfContext, type InConnector, type PacketKind } from '../core/connector.ts'
import type { Endpoint } from '../net/endpoint.ts'
import { checkNotMulticastOptions, isMulticastHost } from '../net/multicast.ts'
import { EveryAddress } from './udp-listen/every-address.ts'
import { joinGroup } from './udp-listen/multicast.ts'
import { listenResolved } from './udp-listen/resolved.ts'
import { ListenSockets } from './udp-listen/sockets.ts'

/** How often `udp/listen:*` looks for new or vanished local addresses (docs/addresses.md U4; `rescan=` changes it). */
const DEFAULT_RESCAN_MS = 30_000

export function udpListenIn(ctx: HalfContext, endpoint: Endpoint, text: string, kind: PacketKind): InConnector {
  checkNotMulticastOptions(endpoint, text)
  const sockets = new ListenSockets(ctx, kind)
  const everyAddress = endpoint.hostKind === 'wildcard' && endpoint.options.wildcard === undefined
    ? new EveryAddress(ctx, endpoint, text, sockets, endpoint.options.rescan === undefined ? DEFAULT_RESCAN_MS : parseDuration(endpoint.options.rescan, 'rescan'))
    : undefined
  return {
    async start(out) {
      sockets.deliverTo(out)
      if (isMulticastHost(endpoint)) await joinGroup(ctx, endpoint, text, sockets)
      else if (everyAddress) await everyAddress.start()
      else await listenResolved(ctx, endpoint, text, sockets)
    },
    async close() {
      await everyAddress?.close()
      sockets.close()
    },
    addresses: () => sockets.addresses(),
    rescan: () => everyAddress?.rescan() ?? Promise.resolve(),
  }
}

export const udpListenConnector: ConnectorFactory = { in: (s, ctx) => udpListenIn(ctx, endpointOf(s), s.text, 'request') }
