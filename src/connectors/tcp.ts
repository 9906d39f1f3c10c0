import type { HalfContext } from '../core/connector.ts'
import type { Endpoint } from '../net/endpoint.ts'
import { raceOptionsOf, raceTcp } from '../net/dial.ts'
import { filterForLocal, localBindOf } from '../net/family.ts'
import { dualStackRequested } from '../net/resolve.ts'
import type { StreamTransport } from './stream-tunnel.ts'
import { listenAt } from '../net/bind-all.ts'
import { endpointOf } from '../core/connector.ts'
import { tunnelConnector } from './stream-tunnel.ts'

/**
 * Plain TCP as a tunnel transport. Clients race the resolved addresses (RFC 8305, docs/addresses.md C1–C10)
 * from the local bind given by `bind=`, `sourceport=` or the `::iface:` prefix, keeping only the
 * remote addresses that bind can reach (M1–M4).
 */
export function tcpTransport(ctx: HalfContext, role: 'server' | 'client', text: string, endpoint?: Endpoint, allowHalfOpen = false): StreamTransport & Required<Pick<StreamTransport, 'listen' | 'dial'>> {
  const rt = ctx.runtime
  const log = ctx.logger.child(`tcp/${role}`)
  let warned = false
  const warnOnce = (m: string) => {
    if (!warned) log.warn(m)
    warned = true
  }
  const race = role === 'client' && endpoint ? raceOptionsOf(endpoint.options, text, (m) => log.warn(m)) : {}
  const dualStack = role === 'server' && endpoint !== undefined && dualStackRequested(endpoint, text)
  return {
    name: `tcp/${role}`,
    listen: (addr, port, onConnection) => rt.listenTcp({ ...listenAt(addr, port, dualStack), allowHalfOpen, onConnection }),
    dial: (addresses, port, signal) => {
      const local = endpoint && localBindOf(rt, endpoint, text)
      const targets = filterForLocal(rt, addresses, local, text, warnOnce)
      return raceTcp(rt, text, targets, port, {
        timeoutMs: ctx.options.connectTimeoutMs,
        signal,
        race,
        localAddressFor: local && ((c) => local.addressFor(c)),
        localPort: local?.port,
        allowHalfOpen,
        onEvent: (e) => log.debug(`${e.type} ${e.address.includes(':') ? `[${e.address}]` : e.address}:${port} at ${Math.round(e.atMs)} ms${e.type === 'attempt-fail' ? `: ${e.errno ?? e.message}` : ''}`),
      })
    },
  }
}

export const tcpConnector = tunnelConnector((ctx, role, spec) => tcpTransport(ctx, role, spec.text, endpointOf(spec)))
