import type { Family, ResolvedAddress, SocketAddress, UdpSocket } from '../ports/runtime.ts'
import type { HalfContext, InConnector, PacketKind, PacketSink } from '../core/connector.ts'
import { parseDuration } from '../base/duration.ts'
import { RelayError } from '../base/errors.ts'
import { unrefTimer } from '../base/clock.ts'
import { Flow } from '../core/flow.ts'
import { FlowTable } from '../core/flow-table.ts'
import { MAX_DATAGRAM } from '../protocol/frame.ts'
import { bindAll, skipUnavailableAddress } from '../net/bind-all.ts'
import type { Endpoint } from '../net/endpoint.ts'
import { localUnicastAddresses } from '../net/local-addresses.ts'
import { checkNotMulticastOptions, isMulticastHost, multicastPlan } from '../net/multicast.ts'
import { dualStackRequested, effectiveFamily, resolveListen } from '../net/resolve.ts'
import { formatAddress } from '../base/address.ts'
import { endpointOf, type ConnectorFactory } from '../core/connector.ts'

/** How often `udp/listen:*` looks for new or vanished local addresses (U4; `rescan=` changes it). */
const DEFAULT_RESCAN_MS = 30_000

interface Bound {
  socket: UdpSocket
  /** Part of every flow key of this socket (U2: flows are keyed by socket and peer). */
  index: number
}

/**
 * udp/listen and udp/event as --in: every local client (socket, address, port) is a flow; its
 * replies leave from the socket it sent to. udp/event sends one-way events instead of requests.
 *
 * Addresses: `*` binds one socket per local unicast address (docs/addresses.md U1; `,wildcard` binds the
 * family wildcards instead, U3) and rescans every 30 s or on rescan(); a name binds every address
 * it resolves to; a multicast group binds the group family's wildcard and joins the group on the
 * named interface (MC1–MC3).
 */
export function udpListenIn(ctx: HalfContext, endpoint: Endpoint, text: string, kind: PacketKind): InConnector {
  const log = ctx.logger.child(kind === 'event' ? 'udp/event' : 'udp/listen')
  // Bounded like the far side's tables: a flood of new source addresses evicts the oldest flow.
  const maxFlows = ctx.options.maxFlowsPerTunnel
  const flows = new FlowTable<string>({
    idleMs: ctx.options.flowIdleMs,
    maxSize: maxFlows,
    onEvict: (flow) => ctx.drops.drop('flow_evicted', `${flow.label}: more than ${maxFlows} local flows, closed the least recently used`),
  })
  const sockets = new Map<string, Bound>()
  let nextId = 1
  let socketSeq = 0
  let out: PacketSink | undefined
  let port = endpoint.port
  let rescanTimer: ReturnType<typeof setInterval> | undefined
  let rescanning: Promise<void> | undefined
  let again: Promise<void> | undefined
  let closed = false

  checkNotMulticastOptions(endpoint, text)
  const multicast = isMulticastHost(endpoint)
  const enumerated = endpoint.hostKind === 'wildcard' && endpoint.options.wildcard === undefined
  const dualStack = dualStackRequested(endpoint, text)
  const rescanMs = endpoint.options.rescan === undefined ? DEFAULT_RESCAN_MS : parseDuration(endpoint.options.rescan, 'rescan')

  const onMessage = (sock: () => UdpSocket, index: number) => (data: Uint8Array, address: string, fromPort: number) => {
    if (data.length === 0) {
      ctx.drops.drop('empty_datagram', `zero-length datagram from ${address}:${fromPort} (nothing to forward)`)
      return
    }
    if (data.length > MAX_DATAGRAM) {
      ctx.drops.drop('oversized_datagram', `${data.length}-byte datagram from ${address}:${fromPort}`)
      return
    }
    const key = `${index}|${address}|${fromPort}`
    let flow = flows.get(key)
    if (!flow) {
      const s = sock()
      // IPv4 peers of a dual-stack socket arrive as ::ffff:a.b.c.d: named as IPv4, answered in
      // the form the socket needs (S7, U8).
      const peer = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address
      flow = new Flow(`udp ${peer}:${fromPort}`, (_id, payload) => {
        s.send(payload, fromPort, address)
        ctx.stats.add('udp.replies')
      }, Date.now())
      flows.add(key, flow)
      ctx.stats.add('udp.flows')
      log.debug(`new flow ${flow.label} on ${formatAddress(s.local)}`)
    } else {
      flow.touch()
    }
    const id = nextId
    nextId = nextId === 0xffffffff ? 1 : nextId + 1
    ctx.stats.add(kind === 'event' ? 'udp.events' : 'udp.requests')
    out!.send(flow, kind, id, data)
  }

  const bindOne = async (addr: ResolvedAddress, atPort: number): Promise<UdpSocket> => {
    const index = socketSeq++
    let socket!: UdpSocket
    socket = await ctx.runtime.bindUdp({
      address: addr.address,
      port: atPort,
      family: addr.family,
      ipv6Only: addr.family === 6 && !dualStack,
      onMessage: onMessage(() => socket, index),
      onError: (err) => log.warn(`socket error on ${formatAddress(socket.local)}: ${err.message}`),
    })
    sockets.set(addr.address, { socket, index })
    return socket
  }

  const families = (): Family[] => {
    const f = effectiveFamily(endpoint, ctx.options.family, text)
    return f === undefined ? [6, 4] : [f]
  }

  const enumerate = (warn: boolean) => {
    const found = localUnicastAddresses(ctx.runtime, families(), text, endpoint.iface)
    if (warn) for (const f of found.missing) log.warn(`W_FAMILY_UNAVAILABLE ${text}: this host has no IPv${f} address, listening without it`)
    return found.addresses
  }

  /** Closes one socket and ends its flows (`session-lost`, U4). */
  const drop = (address: string) => {
    const b = sockets.get(address)
    if (!b) return
    sockets.delete(address)
    b.socket.close()
    const prefix = `${b.index}|`
    for (const flow of flows.all()) {
      if (!(flow.key as string).startsWith(prefix)) continue
      flow.close()
      ctx.stats.add('udp.sessions_lost')
      log.info(`session-lost ${flow.label}: local address ${formatAddress(b.socket.local)} is gone`)
    }
    log.info(`address ${address} is gone: closed its socket`)
  }

  const scan = async () => {
    const now = enumerate(false)
    const wanted = new Set(now.map((a) => a.address))
    for (const address of [...sockets.keys()]) if (!wanted.has(address)) drop(address)
    for (const addr of now) {
      if (sockets.has(addr.address) || closed) continue
      try {
        const s = await bindOne(addr, port)
        if (closed) s.close()
        else log.info(`new address: listening on ${formatAddress(s.local)}`)
      } catch (err) {
        log.warn(`W_ADDRESS_UNAVAILABLE ${text}: cannot bind new address ${addr.address} on port ${port}: ${(err as Error).message}`)
      }
    }
  }

  /** One rescan at a time; a call during one runs another right after it (it may have looked too early). */
  const rescan = (): Promise<void> => {
    if (closed) return Promise.resolve()
    if (rescanning) {
      again ??= rescanning.then(() => {
        again = undefined
        return rescan()
      })
      return again
    }
    // The callback runs asynchronously, so always after the assignment below.
    const current = scan().catch((err) => log.warn(`rescan failed: ${(err as Error).message}`)).then(() => {
      rescanning = undefined
    })
    rescanning = current
    return current
  }

  const startMulticast = async () => {
    const plan = multicastPlan(ctx.runtime, endpoint, text)
    if (!ctx.runtime.bindMulticast) throw new RelayError('E_UNSUPPORTED_ON_RUNTIME', `${text}: the ${ctx.runtime.name} runtime has no multicast`)
    let socket!: UdpSocket
    const mc = await ctx.runtime.bindMulticast({
      address: plan.family === 6 ? '::' : '0.0.0.0',
      port,
      family: plan.family,
      ipv6Only: plan.family === 6,
      reuseAddr: true,
      iface: plan.iface,
      join: [{ group: plan.group, ...(plan.source ? { source: plan.source } : {}) }],
      onMessage: onMessage(() => socket, 0),
      onError: (err) => log.warn(`socket error on group ${plan.group}: ${err.message}`),
    })
    socket = mc
    sockets.set(plan.group, { socket, index: 0 })
    log.info(`joined ${plan.group}${plan.source ? ` from ${plan.source}` : ''} on ${plan.iface.name}, port ${mc.local.port} (${mc.via})`)
  }

  return {
    async start(sink) {
      out = sink
      if (multicast) return startMulticast()
      if (enumerated) {
        const addrs = enumerate(true)
        if (addrs.length === 0) throw new RelayError('E_LISTEN', `${text}: no local address to listen on`)
        const bound = await bindAll(text, addrs, port, skipUnavailableAddress(text), bindOne, (m) => log.warn(m))
        port = bound[0]!.local.port
        // A failed attempt of the port-0 sync leaves entries behind: keep only live sockets.
        for (const [address, b] of [...sockets]) if (!bound.includes(b.socket)) sockets.delete(address)
        log.info(`listening on port ${port} of ${bound.length} local address${bound.length === 1 ? '' : 'es'}: ${bound.map((s) => formatAddress(s.local)).join(', ')}`)
        if (rescanMs > 0) rescanTimer = unrefTimer(setInterval(() => void rescan(), rescanMs))
        return
      }
      if (endpoint.hostKind === 'wildcard') {
        log.warn(`W_UDP_WILDCARD_SOURCE ${text}: one wildcard socket per family; replies may come from another address on multihomed hosts`)
      }
      const addrs = await resolveListen(ctx.runtime, endpoint, text, ctx.options.family, (m) => log.warn(m))
      const bound = await bindAll(text, addrs, endpoint.port, endpoint.hostKind === 'wildcard', bindOne, (m) => log.warn(m))
      for (const [address, b] of [...sockets]) if (!bound.includes(b.socket)) sockets.delete(address)
      for (const s of bound) log.info(`listening on ${formatAddress(s.local)}`)
    },
    async close() {
      closed = true
      if (rescanTimer !== undefined) clearInterval(rescanTimer)
      await rescanning
      flows.closeAll()
      for (const b of sockets.values()) b.socket.close()
      sockets.clear()
    },
    addresses: (): SocketAddress[] => [...sockets.values()].map((b) => b.socket.local),
    rescan: () => (enumerated ? rescan() : Promise.resolve()),
  }
}

export const udpListenConnector: ConnectorFactory = { in: (s, ctx) => udpListenIn(ctx, endpointOf(s), s.text, 'request') }
