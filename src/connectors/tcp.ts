import type { HalfContext } from '../core/connector.ts'
import { dialFirst } from '../net/dial.ts'
import type { StreamTransport } from './stream-tunnel.ts'

/** Plain TCP as a tunnel transport. */
export function tcpTransport(ctx: HalfContext, role: 'server' | 'client', text: string): StreamTransport {
  const rt = ctx.runtime
  return {
    name: `tcp/${role}`,
    listen: (addr, port, onConnection) => rt.listenTcp({ address: addr.address, port, family: addr.family, ipv6Only: addr.family === 6, onConnection }),
    dial: (addresses, port, signal) => dialFirst(rt, text, addresses, port, ctx.options.connectTimeoutMs, signal),
  }
}
