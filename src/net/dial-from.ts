/**
 * The first connection to a server's addresses from the interface its connector names with the
 * `::eth0:` prefix or `iface=` (docs/addresses.md C9): tls/client, ws/client and grpc/client bind
 * each attempt to that interface's address of the attempt's family, keeping only the addresses it
 * can reach, as tcp/client does. Without an interface: any local address.
 */
import type { ResolvedAddress, Runtime, StreamConn } from '../ports/runtime.ts'
import { dialFirst, raceTcp } from './dial.ts'
import type { Endpoint } from './endpoint.ts'
import { filterForLocal, localBindOf } from './family.ts'

export function dialFrom(rt: Runtime, dialer: Runtime, endpoint: Endpoint, text: string, addresses: ResolvedAddress[], port: number, timeoutMs: number, signal: AbortSignal, warn: (m: string) => void): Promise<StreamConn> {
  // Only the interface: these connectors refuse bind= and sourceport= before they get here.
  const local = endpoint.iface !== undefined ? localBindOf(rt, { ...endpoint, options: {} }, text) : undefined
  if (!local) return dialFirst(dialer, text, addresses, port, timeoutMs, signal)
  return raceTcp(dialer, text, filterForLocal(rt, addresses, local, text, warn), port, { timeoutMs, signal, localAddressFor: (c) => local.addressFor(c) })
}
