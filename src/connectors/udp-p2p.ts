/**
 * udp/p2p:<local>,peer=<host>:<port>: UDP with one fixed peer and no client or server role
 * (OpenVPN's p2p mode), for two sites that each know the other's address. Both ends bind their
 * local port; every local address of a family the peer has is bound (`*`: that family's wildcard),
 * datagrams go to the peer from the socket of its family, and only datagrams from the peer's
 * addresses and port are taken (the rest are dropped and counted). Family rules in src/net/p2p.ts
 * (docs/addresses.md U7).
 *
 * As --in, each of the peer's source addresses is a flow whose replies go back to it. As --out,
 * the half's flows are sent to the peer, and what the peer sends is the reply of the flow that sent
 * last (a peer's datagrams carry nothing that tells flows apart).
 */
import { formatAddress, hostPort, socketAddress } from '../base/address.ts'
import { RelayError } from '../base/errors.ts'
import type { Logger } from '../base/logger.ts'
import { type ConnectorFactory, endpointOf, type HalfContext, type InConnector, type OutConnector, type PacketKind } from '../core/connector.ts'
import type { Flow, FlowState } from '../core/flow.ts'
import type { ConnectorSpec } from '../net/connector-string.ts'
import { bindAll, type Bound } from '../net/bind-all.ts'
import { type Endpoint, parseHostPort } from '../net/endpoint.ts'
import { type P2pPlan, planP2p, sameAddress } from '../net/p2p.ts'
import { resolveConnect, resolveListen } from '../net/resolve.ts'
import type { UdpSocket } from '../ports/runtime.ts'
import { MAX_DATAGRAM } from '../protocol/frame.ts'
import { ListenSockets } from './udp-listen/sockets.ts'
import { forwardReply, noteSent, type ReplyWindow } from './udp-reply-window.ts'

const NAME = 'udp/p2p'

/** The local endpoint and the peer's, checked: `peer=` is required and the only option. */
function endpointsOf(spec: ConnectorSpec): { local: Endpoint; peer: Endpoint } {
  const local = endpointOf(spec)
  for (const key of Object.keys(local.options)) {
    if (key !== 'peer') throw new RelayError('E_CONFIG', `${spec.text}: unknown option '${key}' for ${NAME} (options: peer=<host>:<port>)`)
  }
  if (local.iface !== undefined) throw new RelayError('E_CONFIG', `${spec.text}: ${NAME} takes no interface; bind its address instead (${NAME}:10.0.0.1:5000,peer=...)`)
  const text = local.options.peer
  if (!text) throw new RelayError('E_CONFIG', `${spec.text}: ${NAME} needs peer=<host>:<port> (the other end's address)`)
  // Parsed as a remote (no wildcard, no port 0), errors pointing into the connector text.
  const at = spec.text.search(/,peer=/i)
  const peer = parseHostPort(text, { role: 'connect', source: spec.text, offset: at + 6, ...(local.family === undefined ? {} : { family: local.family }) })
  return { local, peer }
}

/** Resolves both ends and plans the sockets (U7); logs what it chose. */
async function plan(ctx: HalfContext, spec: ConnectorSpec, log: Logger): Promise<P2pPlan & { local: Endpoint; port: number }> {
  const { local, peer } = endpointsOf(spec)
  const warn = (m: string) => log.warn(m)
  const peers = await resolveConnect(ctx.runtime, peer, spec.text, ctx.options.family)
  const locals = await resolveListen(ctx.runtime, local, spec.text, ctx.options.family, warn)
  return { ...planP2p(locals, peers, peer.port, spec.text, warn), local, port: peer.port }
}

/** Whether a datagram came from the peer (an IPv4 peer on a dual-stack socket arrives v4-mapped). */
const fromPeer = (p: P2pPlan & { port: number }) => (address: string, port: number) => {
  const from = socketAddress(address, port).address
  return port === p.port && p.accept.some((a) => sameAddress(a.address, from))
}

/**
 * The socket of the peer's family, and the peer's address as that socket takes it: where the
 * runtime's `[::]` is dual-stack and took IPv4 too (W_V6ONLY_UNSUPPORTED), it sends to an IPv4
 * peer v4-mapped.
 */
function senderFor(p: P2pPlan, sockets: UdpSocket[]): { socket: UdpSocket; address: string } {
  const same = sockets.find((s) => s.local.family === p.peer.family)
  if (same) return { socket: same, address: p.peer.address }
  return { socket: sockets.find((s) => s.local.family === 6)!, address: `::ffff:${p.peer.address}` }
}

/** Binds the plan's addresses as one unit (all or nothing; `*` leaves out a family the host lacks). */
function bindPlan<T extends Bound>(p: P2pPlan & { local: Endpoint }, text: string, log: Logger, bind: (address: P2pPlan['bind'][number], port: number) => Promise<T>): Promise<T[]> {
  return bindAll(text, p.bind, p.local.port, p.local.hostKind === 'wildcard', bind, (m) => log.warn(m))
}

function describe(p: P2pPlan & { port: number }, sockets: UdpSocket[]): string {
  return `peer ${hostPort(p.peer.address, p.port)} from ${formatAddress(senderFor(p, sockets).socket.local)} (bound ${sockets.map((s) => formatAddress(s.local)).join(', ')})`
}

/** --in: the peer's datagrams are requests; replies go back to the peer from the socket they came to. */
function p2pIn(ctx: HalfContext, spec: ConnectorSpec): InConnector {
  endpointsOf(spec)
  let sockets: ListenSockets | undefined
  const log = ctx.logger.child(NAME)
  return {
    async start(out) {
      const p = await plan(ctx, spec, log)
      const s = new ListenSockets(ctx, 'request', { name: NAME, accept: fromPeer(p) })
      sockets = s
      s.deliverTo(out)
      const bound = await bindPlan(p, spec.text, log, (addr, port) => s.bind(addr, port, false))
      s.keepOnly(bound)
      log.info(`listening for ${describe(p, bound)}`)
    },
    async close() {
      sockets?.close()
    },
    addresses: () => sockets?.addresses() ?? [],
  }
}

/** The reply window of a flow sent to the peer. */
class PeerFlow implements FlowState, ReplyWindow {
  requestId = 0
  windowEnd = 0
  private readonly forget: (state: PeerFlow) => void
  constructor(forget: (state: PeerFlow) => void) {
    this.forget = forget
  }

  release(): void {
    this.forget(this)
  }
}

/** --out: every flow goes to the peer; the peer's datagrams are the replies of the flow that sent last. */
function p2pOut(ctx: HalfContext, spec: ConnectorSpec): OutConnector {
  endpointsOf(spec)
  const log = ctx.logger.child(NAME)
  let sockets: UdpSocket[] = []
  let send: ((payload: Uint8Array) => void) | undefined
  let last: { flow: Flow; state: PeerFlow } | undefined
  const forget = (state: PeerFlow) => {
    if (last?.state === state) last = undefined
  }
  return {
    async start() {
      const p = await plan(ctx, spec, log)
      const accept = fromPeer(p)
      const received = (data: Uint8Array, address: string, port: number) => {
        if (!accept(address, port)) return ctx.drops.drop('udp_stray', `a datagram from ${hostPort(address, port)}, which is not the peer`)
        if (data.length === 0) return ctx.drops.drop('empty_datagram', `zero-length datagram from the peer ${hostPort(address, port)}`)
        if (data.length > MAX_DATAGRAM) return ctx.drops.drop('oversized_datagram', `${data.length}-byte datagram from the peer ${hostPort(address, port)}`)
        if (!last) return ctx.drops.drop('p2p_unsolicited', `a datagram from the peer ${hostPort(address, port)} while no flow has sent anything`)
        forwardReply(ctx, last.flow, last.state, data)
      }
      sockets = await bindPlan(p, spec.text, log, (addr, port) => ctx.runtime.bindUdp({
        address: addr.address,
        port,
        family: addr.family,
        ipv6Only: addr.family === 6,
        onMessage: received,
        onError: (err) => log.warn(`socket error on ${addr.address}: ${err.message}`),
      }))
      const to = senderFor(p, sockets)
      send = (payload) => to.socket.send(payload, p.port, to.address)
      log.info(`sending to ${describe(p, sockets)}`)
    },
    send(flow: Flow, kind: PacketKind, id: number, payload: Uint8Array) {
      if (flow.closed) return
      let state = flow.out as PeerFlow | undefined
      if (!state) flow.out = state = new PeerFlow(forget)
      noteSent(ctx, state, kind, id)
      last = { flow, state }
      send!(payload)
    },
    async close() {
      for (const s of sockets) s.close()
      sockets = []
      last = undefined
    },
    addresses: () => sockets.map((s) => s.local),
  }
}

export const udpP2pConnector: ConnectorFactory = {
  in: (s, ctx) => p2pIn(ctx, s),
  out: (s, ctx) => p2pOut(ctx, s),
}
