/**
 * TCP port forwarding (docs/wire-protocol.md#tcp-streams):
 * - `tcp/listen:<addr>[,to=host:port]` (in): every accepted connection becomes a stream through the
 *   --out tunnel; `to=` names the destination for a far `tcp/dial`.
 * - `tcp/connect:<host>:<port>` (out): every stream dials that one destination.
 * - `tcp/dial` (out): every stream dials the destination its opener names, only within --allow; the
 *   datagrams of SOCKS5 UDP associations go by UDP to the destination their flow names
 *   (udp-dial.ts, docs/wire-protocol.md#udp-associate), within the same --allow.
 * Names are resolved here, where the connection is made: Happy Eyeballs, --ipv4/--ipv6, bind=,
 * sourceport=, iface= as for tcp/client (src/connectors/tcp.ts).
 */
import { formatAddress } from '../base/address.ts'
import { RelayError } from '../base/errors.ts'
import type { StreamConn, StreamListener, SocketAddress } from '../ports/runtime.ts'
import { endpointOf, type ConnectorFactory, type HalfContext, type InConnector, type OutConnector, type OutSide } from '../core/connector.ts'
import type { OpenedStream, OpenRequest } from '../core/streams/byte-stream.ts'
import { codeOfDialError, isStreamError, StreamError } from '../core/streams/codes.ts'
import { connStream } from '../core/streams/conn-stream.ts'
import { LogBudget } from '../core/streams/log-budget.ts'
import { pipe } from '../core/streams/pipe.ts'
import { bindAll } from '../net/bind-all.ts'
import type { ConnectorSpec } from '../net/connector-string.ts'
import { formatHostPort, parseHostPort, type Endpoint } from '../net/endpoint.ts'
import { dualStackRequested, resolveConnect, resolveListen } from '../net/resolve.ts'
import { tcpTransport } from './tcp.ts'
import { allowedDestination } from './allowed-destination.ts'
import { addressedDatagrams } from './udp-dial.ts'

/** In connectors whose traffic is TCP streams, or that carry both (tunnels): what tcp/connect and tcp/dial can serve. */
const STREAM_IN_KINDS = new Set(['tcp', 'tls', 'ws', 'grpc', 'zmq', 'socks5', 'http-proxy'])

/** Streams need flow ids on the wire: refuse them with uhppoted-tunnel framing, and behind a datagram-only in connector. */
function checkStreamHalf(spec: ConnectorSpec, ctx: HalfContext, peer?: ConnectorSpec): void {
  if (ctx.options.codec === 'uhppoted') {
    throw new RelayError('E_CONFIG', `${spec.text}: TCP streams need frames with flow ids, which uhppoted-tunnel framing (--codec uhppoted) does not have; use --codec protobuf, avro or msgpack on both halves`)
  }
  if (peer && !STREAM_IN_KINDS.has(peer.kind)) {
    throw new RelayError('E_CONFIG', `${spec.text} carries TCP streams, but --in ${peer.text} carries datagrams: use a datagram --out (udp/broadcast, udp/event) or a stream --in (tcp/listen or a tunnel)`)
  }
}

/** `to=host:port` of tcp/listen, checked now, sent as the canonical text. */
function destinationOption(spec: ConnectorSpec): string | undefined {
  const to = spec.options.to
  if (to === undefined) return undefined
  try {
    return formatHostPort(parseHostPort(to, { role: 'connect' }))
  } catch (err) {
    throw new RelayError('E_CONFIG', `${spec.text}: to=${to} is not a destination host:port: ${(err as Error).message}`, { cause: err })
  }
}

export function tcpListenIn(spec: ConnectorSpec, ctx: HalfContext): InConnector {
  checkStreamHalf(spec, ctx)
  const endpoint = endpointOf(spec)
  const dst = destinationOption(spec)
  const log = ctx.logger.child('tcp/listen')
  const budget = new LogBudget()
  const conns = new Set<StreamConn>()
  let listeners: StreamListener[] = []
  let out: OutSide

  const accept = (conn: StreamConn) => {
    if (ctx.signal.aborted) return conn.destroy()
    // Nothing is read until the stream is open: the client's bytes wait in the kernel.
    conn.pause?.()
    conns.add(conn)
    ctx.stats.add('streams.tcp_accepted')
    const src = formatAddress(conn.remote)
    out.openStream!({ dst, src, signal: ctx.signal }).then(
      (opened) => {
        pipe(connStream(conn, src, () => conns.delete(conn)), opened.stream)
        conn.resume?.()
      },
      (err: unknown) => {
        conns.delete(conn)
        const reason = isStreamError(err) ? err : new StreamError(codeOfDialError(err), (err as Error)?.message ?? String(err))
        ctx.stats.add(`streams.refused.${reason.streamCode}`)
        budget.log((m) => log.info(m), `${src} → ${dst ?? 'the far half\'s destination'}: refused (${reason.streamCode}): ${reason.message}`)
        if (conn.reset) conn.reset()
        else conn.destroy()
      },
    )
  }

  return {
    async start(o) {
      out = o
      if (!o.openStream) throw new RelayError('E_CONFIG', `${spec.text}: the --out connector does not carry TCP streams; use a tunnel (tcp/client, tls/client, ws/client, grpc/client or their servers) or tcp/connect`)
      const addrs = await resolveListen(ctx.runtime, endpoint, spec.text, ctx.options.family, (m) => log.warn(m))
      const dualStack = dualStackRequested(endpoint, spec.text)
      listeners = await bindAll(spec.text, addrs, endpoint.port, endpoint.hostKind === 'wildcard', (addr, port) =>
        ctx.runtime.listenTcp({ address: addr.address, port, family: addr.family, ipv6Only: addr.family === 6 && !dualStack, allowHalfOpen: true, onConnection: accept }), (m) => log.warn(m))
      for (const l of listeners) log.info(`listening on ${formatAddress(l.local)}${dst ? ` (streams to ${dst})` : ''}`)
    },
    async close() {
      await Promise.all(listeners.map((l) => l.close()))
      for (const c of conns) c.destroy()
      conns.clear()
    },
    addresses: (): SocketAddress[] => listeners.map((l) => l.local),
  }
}

/** What tcp/connect and tcp/dial share: dial an endpoint (resolved here) and hand the connection over as a stream. */
function streamDialler(ctx: HalfContext, spec: ConnectorSpec, name: string) {
  const conns = new Set<StreamConn>()
  return {
    conns,
    /** `check` looks at the connection before anything is relayed (throws to refuse it). */
    async dial(target: Endpoint, addresses: Awaited<ReturnType<typeof resolveConnect>>, text: string, req: OpenRequest, check?: (conn: StreamConn) => void): Promise<OpenedStream> {
      const signal = req.signal ? AbortSignal.any([ctx.signal, req.signal]) : ctx.signal
      const conn = await tcpTransport(ctx, 'client', text, target, true).connect(addresses, target.port, signal)
      try {
        check?.(conn)
      } catch (err) {
        conn.destroy()
        throw err
      }
      conns.add(conn)
      ctx.stats.add(`streams.${name}`)
      return { stream: connStream(conn, undefined, () => conns.delete(conn)), bound: formatAddress(conn.local) }
    },
    close() {
      for (const c of conns) c.destroy()
      conns.clear()
    },
    /** A datagram reached a stream-only out connector (a tunnel peer sent one): counted, dropped. */
    send() {
      ctx.drops.drop('not_streams', `${spec.text} carries TCP streams only: a datagram from the tunnel was dropped`)
    },
  }
}

function asStreamError(err: unknown): StreamError {
  return isStreamError(err) ? err : new StreamError(codeOfDialError(err), (err as Error)?.message ?? String(err), { cause: err })
}

export function tcpConnectOut(spec: ConnectorSpec, ctx: HalfContext, peer: ConnectorSpec | undefined): OutConnector {
  checkStreamHalf(spec, ctx, peer)
  const endpoint = endpointOf(spec)
  const target = formatHostPort(endpoint)
  const dialler = streamDialler(ctx, spec, 'dialled')
  return {
    async start() {},
    send: () => dialler.send(),
    async openStream(req) {
      if (req.dst !== undefined && canonical(req.dst) !== target) {
        throw new StreamError('not_allowed', `${spec.text} connects only to ${target}, not ${req.dst}; a half that dials what the other side names is --out tcp/dial with --allow`)
      }
      try {
        const addresses = await resolveConnect(ctx.runtime, endpoint, spec.text, ctx.options.family)
        return await dialler.dial(endpoint, addresses, spec.text, req)
      } catch (err) {
        throw asStreamError(err)
      }
    },
    async close() {
      dialler.close()
    },
  }
}

export function tcpDialOut(spec: ConnectorSpec, ctx: HalfContext, peer: ConnectorSpec | undefined): OutConnector {
  checkStreamHalf(spec, ctx, peer)
  const allow = ctx.options.allow
  if (!allow) {
    throw new RelayError('E_CONFIG', `${spec.text} dials whatever the other half names, so it needs --allow with the destinations it may reach (e.g. --allow 10.0.0.0/8:22,db.internal:5432,*.corp.example:443); --allow '*' opens everything`)
  }
  const log = ctx.logger.child('tcp/dial')
  if (allow.opensEverything) log.warn(`--allow '${allow.text}' lets the other half reach any destination this host can reach`)
  // The edge resolves names itself as it connects: a name is checked before, its address after.
  const late = ctx.runtime.capabilities.resolvesAtConnect === true
  if (late && !allow.opensEverything) log.info(`names are resolved by the ${ctx.runtime.name} platform as it connects: a name is checked against --allow before, and the address reached after connecting, where the platform reports it (refused then before any byte is relayed)`)
  const budget = new LogBudget()
  const dialler = streamDialler(ctx, spec, 'dialled')
  const check = { ctx, allow, log, budget, what: 'streams' }
  // Datagrams of flows with a destination (SOCKS5 UDP associations) go there by UDP, within the same --allow.
  const datagrams = addressedDatagrams({ ...check, what: 'datagrams' }, spec)
  return {
    async start() {},
    send(flow, kind, id, payload) {
      if (flow.dst === undefined) return dialler.send()
      datagrams.send(flow, kind, id, payload)
    },
    takesDestinations: true,
    async openStream(req) {
      if (req.dst === undefined) throw new StreamError('bad_destination', `${spec.text} dials the destination the other half names, and none was named (give tcp/listen a ,to=host:port)`)
      const { endpoint, text, addresses, checkReached } = await allowedDestination(check, req.dst, req.src)
      // bind=, sourceport=, iface= and attempt-delay= of tcp/dial apply to every destination.
      const target: Endpoint = { ...endpoint, options: { ...spec.options } }
      if (spec.iface !== undefined) target.iface = spec.iface
      try {
        return await dialler.dial(target, addresses, `${spec.text} → ${text}`, req, checkReached)
      } catch (err) {
        throw asStreamError(err)
      }
    },
    async close() {
      dialler.close()
      datagrams.close()
    },
  }
}

function canonical(dst: string): string {
  try {
    return formatHostPort(parseHostPort(dst, { role: 'connect' }))
  } catch {
    return dst
  }
}

export const tcpListenConnector: ConnectorFactory = { in: (s, ctx) => tcpListenIn(s, ctx) }
export const tcpConnectConnector: ConnectorFactory = { out: (s, ctx, peer) => tcpConnectOut(s, ctx, peer) }
export const tcpDialConnector: ConnectorFactory = { out: (s, ctx, peer) => tcpDialOut(s, ctx, peer) }
