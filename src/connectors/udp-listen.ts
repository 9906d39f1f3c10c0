import type { SocketAddress, UdpSocket } from '../adapter/types.ts'
import type { HalfContext, InConnector, PacketKind, PacketSink } from '../core/connector.ts'
import { BasicFlow, FlowTable } from '../core/flow.ts'
import { MAX_DATAGRAM } from '../core/frame.ts'
import { bindAll } from '../net/bind-all.ts'
import type { Endpoint } from '../net/endpoint.ts'
import { resolveListen } from '../net/resolve.ts'

/**
 * udp/listen and udp/event as --in: every local client (socket, address, port) is a flow; its
 * replies leave from the socket it sent to. udp/event sends one-way events instead of requests.
 */
export function udpListenIn(ctx: HalfContext, endpoint: Endpoint, text: string, kind: PacketKind): InConnector {
  const log = ctx.logger.child(kind === 'event' ? 'udp/event' : 'udp/listen')
  const flows = new FlowTable<string>(ctx.options.flowIdleMs)
  let sockets: UdpSocket[] = []
  let nextId = 1
  let socketSeq = 0

  const onMessage = (sock: () => UdpSocket, index: number, out: PacketSink) => (data: Uint8Array, address: string, port: number) => {
    if (data.length === 0) {
      ctx.drops.drop('empty_datagram', `zero-length datagram from ${address}:${port} (nothing to forward)`)
      return
    }
    if (data.length > MAX_DATAGRAM) {
      ctx.drops.drop('oversized_datagram', `${data.length}-byte datagram from ${address}:${port}`)
      return
    }
    const key = `${index}|${address}|${port}`
    let flow = flows.get(key)
    if (!flow) {
      const s = sock()
      flow = new BasicFlow(`udp ${address}:${port}`, (_id, payload) => {
        s.send(payload, port, address)
        ctx.stats.add('udp.replies')
      }, Date.now())
      flows.add(key, flow)
      ctx.stats.add('udp.flows')
      log.debug(`new flow ${flow.label}`)
    } else {
      flow.touch()
    }
    const id = nextId
    nextId = nextId === 0xffffffff ? 1 : nextId + 1
    ctx.stats.add(kind === 'event' ? 'udp.events' : 'udp.requests')
    out.send(flow, kind, id, data)
  }

  return {
    async start(out) {
      const addrs = await resolveListen(ctx.runtime, endpoint, text, ctx.options.family)
      sockets = await bindAll(text, addrs, endpoint.port, endpoint.hostKind === 'wildcard', async (addr, port) => {
        const index = socketSeq++
        let socket!: UdpSocket
        socket = await ctx.runtime.bindUdp({
          address: addr.address,
          port,
          family: addr.family,
          ipv6Only: addr.family === 6,
          onMessage: onMessage(() => socket, index, out),
          onError: (err) => log.warn(`socket error: ${err.message}`),
        })
        return socket
      }, (m) => log.warn(m))
      for (const s of sockets) log.info(`listening on ${fmt(s.local)}`)
    },
    async close() {
      flows.closeAll()
      for (const s of sockets) s.close()
    },
    addresses: (): SocketAddress[] => sockets.map((s) => s.local),
  }
}

function fmt(a: SocketAddress): string {
  return a.family === 6 ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`
}
