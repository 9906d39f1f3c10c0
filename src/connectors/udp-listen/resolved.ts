/**
 * udp/listen on a name, a literal or `,wildcard`: every address the name resolves to is bound
 * (all or none, docs/addresses.md S2/S5), or one wildcard socket per family (U3: replies may then
 * leave from another address on a multihomed host, so it warns).
 */
import { formatAddress } from '../../base/address.ts'
import type { HalfContext } from '../../core/connector.ts'
import { bindAll } from '../../net/bind-all.ts'
import type { Endpoint } from '../../net/endpoint.ts'
import { dualStackRequested, resolveListen } from '../../net/resolve.ts'
import type { ListenSockets } from './sockets.ts'

export async function listenResolved(ctx: HalfContext, endpoint: Endpoint, text: string, sockets: ListenSockets): Promise<void> {
  const { log } = sockets
  const wildcard = endpoint.hostKind === 'wildcard'
  if (wildcard) log.warn(`W_UDP_WILDCARD_SOURCE ${text}: one wildcard socket per family; replies may come from another address on multihomed hosts`)
  const dualStack = dualStackRequested(endpoint, text)
  const addrs = await resolveListen(ctx.runtime, endpoint, text, ctx.options.family, (m) => log.warn(m))
  const bound = await bindAll(text, addrs, endpoint.port, wildcard, (addr, port) => sockets.bind(addr, port, dualStack), (m) => log.warn(m))
  sockets.keepOnly(bound)
  for (const s of bound) log.info(`listening on ${formatAddress(s.local)}`)
}
