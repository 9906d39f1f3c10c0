/**
 * SOCKS5 UDP ASSOCIATE (RFC 1928 section 7) on top of the datagram flows: each association binds a
 * UDP socket beside the listener, takes datagrams from its client only, and makes one flow per
 * destination, addressed with `flow.dst`. The flow's datagrams travel as request frames carrying
 * `dst`; the far half's tcp/dial sends them there, within its --allow, and the replies come back
 * on the flow, to be sent to the client with that destination in their header
 * (docs/wire-protocol.md#udp-associate). The association ends with its TCP connection.
 */
import { socketAddress, type SocketAddress } from '../base/address.ts'
import { Flow } from '../core/flow.ts'
import { FlowTable } from '../core/flow-table.ts'
import type { UdpSocket } from '../ports/runtime.ts'
import { encodeReply, encodeUdpHeader, parseUdpHeader, Reply, type SocksAddress } from '../protocol/socks5.ts'
import type { ProxyClient, ProxyListenerShared } from './proxy-listener.ts'
import { destinationOf } from './socks5-address.ts'

/** Associations at once per listener (each holds a UDP socket): more are answered 0x01. */
export const MAX_ASSOCIATIONS = 256
/** Destinations (flows) per association: past it the least recently used flow is closed. */
export const MAX_DESTINATIONS_PER_ASSOCIATION = 256

export class UdpAssociations {
  private readonly shared: ProxyListenerShared
  private readonly all = new Set<Association>()

  constructor(shared: ProxyListenerShared) {
    this.shared = shared
    shared.ctx.stats.gauge(`${shared.stat}.udp_associations`, () => this.all.size)
  }

  associate(c: ProxyClient, requested: SocksAddress): void {
    const { out } = this.shared
    if (!out.takesDestinations) {
      return c.drop('UDP ASSOCIATE needs an --out that carries datagram destinations (a tunnel to a far half with --out tcp/dial, or tcp/dial here)', encodeReply(Reply.commandNotSupported))
    }
    if (this.all.size >= MAX_ASSOCIATIONS) {
      return c.drop(`UDP ASSOCIATE refused: ${MAX_ASSOCIATIONS} associations are open`, encodeReply(Reply.failure), true, 'socks_udp_associations')
    }
    const a = new Association(this.shared, c, requested.port, () => this.all.delete(a))
    this.all.add(a)
    c.hold(() => a.close())
    a.start()
  }

  close(): void {
    for (const a of [...this.all]) a.close()
  }
}

class Association {
  private readonly shared: ProxyListenerShared
  private readonly client: ProxyClient
  /** The client's address: datagrams from anywhere else are dropped. */
  private readonly peer: SocketAddress
  /** The client's UDP port: as it announced it, else the first datagram's. */
  private peerPort: number
  private readonly flows: FlowTable<string>
  private socket: UdpSocket | undefined
  private closed = false
  private nextId = 1
  private readonly onClose: () => void

  constructor(shared: ProxyListenerShared, client: ProxyClient, announcedPort: number, onClose: () => void) {
    this.shared = shared
    this.client = client
    this.peer = socketAddress(client.conn.remote.address, client.conn.remote.port)
    this.peerPort = announcedPort
    this.onClose = onClose
    this.flows = new FlowTable<string>({
      idleMs: shared.ctx.options.flowIdleMs,
      maxSize: MAX_DESTINATIONS_PER_ASSOCIATION,
      onEvict: (flow) => shared.ctx.drops.drop('socks_udp_destinations', `${flow.label}: more than ${MAX_DESTINATIONS_PER_ASSOCIATION} destinations in one association, closed the least recently used`),
    })
  }

  start(): void {
    const { ctx, log, stat } = this.shared
    const local = this.client.conn.local
    ctx.runtime.bindUdp({
      address: local.address,
      port: 0,
      family: local.family,
      onMessage: (data, address, port) => this.onDatagram(data, address, port),
      onError: (err) => log.debug(`UDP association of ${this.client.src}: ${err.message}`),
    }).then((socket) => {
      if (this.closed) return socket.close()
      this.socket = socket
      ctx.stats.add(`${stat}.udp_associated`)
      log.debug(`${this.client.src}: UDP association on ${socket.local.address}:${socket.local.port}`)
      this.client.send(encodeReply(Reply.succeeded, { host: socket.local.address, port: socket.local.port }))
    }, (err: Error) => {
      log.warn(`${this.client.src}: cannot bind a UDP socket for its association on ${local.address}: ${err.message}`)
      this.close(encodeReply(Reply.failure))
    })
  }

  close(answer?: Uint8Array): void {
    if (this.closed) return
    this.closed = true
    this.onClose()
    this.flows.closeAll()
    this.socket?.close()
    this.socket = undefined
    this.client.drop('its UDP association ended', answer, false)
  }

  private onDatagram(data: Uint8Array, address: string, port: number): void {
    const { ctx, out, stat } = this.shared
    const from = socketAddress(address, port)
    if (from.address !== this.peer.address || (this.peerPort !== 0 && port !== this.peerPort)) {
      return ctx.drops.drop('socks_udp_stray', `a datagram from ${from.address}:${port} on the UDP association of ${this.client.src} (only its client may use it)`)
    }
    if (this.peerPort === 0) this.peerPort = port
    const h = parseUdpHeader(data)
    if (h.kind === 'bad') return ctx.drops.drop('socks_udp_malformed', `${this.client.src}: ${h.why}`)
    if (h.frag !== 0) return ctx.drops.drop('socks_udp_fragment', `${this.client.src}: a fragment (FRAG ${h.frag}); fragments are not reassembled`)
    if (h.dataAt === data.length) return ctx.drops.drop('empty_payload', `${this.client.src}: a zero-length datagram`)
    const d = destinationOf(h.address)
    if ('why' in d) return ctx.drops.drop('socks_udp_destination', `${this.client.src}: ${d.why}`)
    let flow = this.flows.get(d.dst)
    if (!flow) {
      const header = encodeUdpHeader(d.host, h.address.port)
      flow = new Flow(`socks5 udp ${this.client.src} → ${d.dst}`, (_id, payload) => this.reply(header, payload), Date.now())
      flow.dst = d.dst
      this.flows.add(d.dst, flow)
    } else {
      flow.touch()
    }
    ctx.stats.add(`${stat}.udp_sent`)
    const id = this.nextId
    this.nextId = (this.nextId + 1) >>> 0 || 1
    out.send(flow, 'request', id, data.subarray(h.dataAt))
  }

  private reply(header: Uint8Array, payload: Uint8Array): void {
    if (!this.socket) return
    const datagram = new Uint8Array(header.length + payload.length)
    datagram.set(header)
    datagram.set(payload, header.length)
    this.shared.ctx.stats.add(`${this.shared.stat}.udp_received`)
    this.socket.send(datagram, this.peerPort, this.peer.address)
  }
}
