/**
 * Stream tunnels as connectors: a side (stream-tunnel-sides.ts) composed with what carries its
 * datagrams (Upstream, Downstream) and its TCP streams (tunnel-streams.ts), and the registry entry
 * of each tunnel kind.
 */
import type { StreamConn } from '../ports/runtime.ts'
import type { HalfContext, InConnector, OutConnector, OutSide, PacketKind } from '../core/connector.ts'
import { RelayError } from '../base/errors.ts'
import type { Flow } from '../core/flow.ts'
import { Kind } from '../protocol/frame.ts'
import { Downstream } from '../core/tunnel/downstream.ts'
import type { Session } from '../core/tunnel/session.ts'
import { Upstream } from '../core/tunnel/upstream.ts'
import type { Wire } from '../protocol/wire.ts'
import type { ConnectorSpec } from '../net/connector-string.ts'
import { endpointOf, type ConnectorFactory } from '../core/connector.ts'
import { StreamPool } from '../core/streams/pool.ts'
import { streamAcceptor } from '../core/streams/serve.ts'
import { ClientSide, ServerSide, sideFor, startSide, type StreamTransport, type StreamTunnelOptions } from './stream-tunnel-sides.ts'
import { acceptStreams, attachStreams } from './tunnel-streams.ts'

export type { StreamTransport, StreamTunnelOptions } from './stream-tunnel-sides.ts'

/** A stream tunnel used as --in: requests from the peer go to the local out connector. */
export function streamTunnelIn(ctx: HalfContext, transport: StreamTransport, opts: StreamTunnelOptions, role: 'server' | 'client'): InConnector {
  const side = sideFor(ctx, transport, opts, role)
  let downstream: Downstream | undefined
  return {
    async start(out: OutSide) {
      const packets = new Downstream(ctx, out)
      const accept = streamAcceptor(ctx, out, opts.outText ?? 'the out connector')
      downstream = packets
      side.defaultKind = opts.eventsIn ? Kind.event : Kind.request
      side.owner = {
        attach(session) {
          acceptStreams(ctx, session, role, accept)
          packets.attach(session)
        },
      }
      await startSide(side)
    },
    async close() {
      await side.close()
      downstream?.close()
    },
    addresses: () => (side instanceof ServerSide ? side.addresses() : []),
    // A listening tunnel waits for its peers; a dialling one is ready once connected.
    ready: () => side instanceof ServerSide || side.up > 0,
  }
}

/** A stream tunnel used as --out: local packets go to the peer, replies come back. */
export function streamTunnelOut(ctx: HalfContext, transport: StreamTransport, opts: StreamTunnelOptions, role: 'server' | 'client'): OutConnector {
  const side = sideFor(ctx, transport, opts, role)
  const upstream = new Upstream(ctx)
  const pool = new StreamPool(ctx, opts.text)
  side.defaultKind = Kind.reply
  // With connections=N to one server, datagrams use one of them (the carrier), or every datagram
  // would arrive N times; when it is lost, another live one takes over. Streams use them all.
  const many = (opts.connections ?? 1) > 1
  const live = new Set<Session>()
  let carrier: Session | undefined
  const carry = (session: Session) => {
    carrier = session
    upstream.attach(session)
  }
  side.owner = {
    attach(session) {
      const mux = attachStreams(ctx, session, role)
      if (mux) pool.add(mux)
      if (!many) return upstream.attach(session)
      live.add(session)
      session.onClose(() => {
        live.delete(session)
        if (carrier !== session) return
        carrier = undefined
        const next = live.values().next().value
        if (next) carry(next)
      })
      if (carrier === undefined) carry(session)
      // The others carry streams only: a datagram frame on them is the peer's mistake.
      else session.onFrame = () => ctx.drops.drop('unexpected_kind', `peer ${session.label} sent a datagram frame on a connection that carries streams only`)
    },
  }
  return {
    start: () => startSide(side),
    send: (flow: Flow, kind: PacketKind, id: number, payload: Uint8Array) => upstream.send(flow, kind, id, payload),
    takesDestinations: true,
    openStream: (req) => pool.openStream(req),
    async close() {
      pool.close()
      await side.close()
      upstream.close()
    },
    addresses: () => (side instanceof ServerSide ? side.addresses() : []),
    // Requests can only go on while a peer is connected (meanwhile they queue).
    ready: () => side.up > 0,
  }
}

/**
 * A tunnel connection accepted by someone else (an edge platform's WebSocket, already negotiated
 * and authenticated) used as --in: one server session on `conn`, no listener.
 */
export function acceptedTunnelIn(ctx: HalfContext, name: string, wire: Wire, conn: Promise<StreamConn>, eventsIn = false, outText = 'the out connector'): InConnector {
  const side = new ServerSide(ctx, { name, wire }, { text: name, eventsIn }, 'server')
  let downstream: Downstream | undefined
  return {
    async start(out: OutSide) {
      const packets = new Downstream(ctx, out)
      const accept = streamAcceptor(ctx, out, outText)
      downstream = packets
      side.defaultKind = eventsIn ? Kind.event : Kind.request
      side.owner = {
        attach(session) {
          acceptStreams(ctx, session, 'server', accept)
          packets.attach(session)
        },
      }
      conn.then((c) => side.accept(c), (err) => side.log.warn(`the connection did not open: ${(err as Error).message}`))
    },
    async close() {
      await side.close()
      downstream?.close()
    },
  }
}

const isEventOut = (peer: ConnectorSpec) => peer.kind === 'udp' && peer.role === 'event'

/** The registry entry of a tunnel kind (tcp, tls, ws, grpc) for one role, given how it makes its transport. */
export function tunnelConnector(makeTransport: (ctx: HalfContext, role: 'server' | 'client', spec: ConnectorSpec) => StreamTransport) {
  return (role: 'server' | 'client'): ConnectorFactory => ({
    in: (s, ctx, peer) => streamTunnelIn(ctx, makeTransport(ctx, role, s), { text: s.text, outText: peer.text, endpoint: endpointOf(s), eventsIn: isEventOut(peer), connections: connectionsOf(s, role, peer) }, role),
    out: (s, ctx) => streamTunnelOut(ctx, makeTransport(ctx, role, s), { text: s.text, endpoint: endpointOf(s), connections: connectionsOf(s, role, undefined) }, role),
  })
}

/** Out connectors that carry streams only: behind them a tunnel may keep several connections. */
const STREAM_ONLY_OUT = new Set(['tcp/connect', 'tcp/dial'])

/**
 * `connections=N` (1-64) on a tunnel client. As --out, streams spread over the N connections and
 * datagrams use one. As --in the other half would send every datagram on each of them, so it is
 * refused unless this half's --out carries streams only.
 */
function connectionsOf(spec: ConnectorSpec, role: 'server' | 'client', peerOut: ConnectorSpec | undefined): number | undefined {
  const value = spec.options.connections
  if (value === undefined) return undefined
  if (role !== 'client') throw new RelayError('E_CONFIG', `${spec.text}: connections= is for tunnel clients (the side that dials)`)
  if (!/^[1-9][0-9]?$/.test(value) || Number(value) > 64) throw new RelayError('E_CONFIG', `${spec.text}: connections must be 1-64, not '${value}'`)
  const n = Number(value)
  if (n > 1 && peerOut !== undefined && !STREAM_ONLY_OUT.has(`${peerOut.kind}/${peerOut.role}`)) {
    throw new RelayError('E_CONFIG', `${spec.text}: connections=${n} on a tunnel used as --in works only with a stream --out (tcp/connect, tcp/dial): the other half would send each datagram on every connection`)
  }
  return n
}
