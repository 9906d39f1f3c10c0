/**
 * The TCP streams a tunnel connection carries: a multiplexer per connection that opens streams,
 * or one built on demand to serve the peer's opens.
 */
import type { HalfContext } from '../core/connector.ts'
import type { Session } from '../core/tunnel/session.ts'
import { StreamMux } from '../core/streams/mux.ts'
import type { TunnelStream } from '../core/streams/tunnel-stream.ts'
import type { Logger } from '../base/logger.ts'

/**
 * The TCP streams of a connection (docs/wire-protocol.md#tcp-streams), on every wire that has
 * flow ids (not uhppoted-tunnel framing): `accept` serves the peer's opens (tunnel as --in);
 * without it this side only opens (tunnel as --out).
 */
export function attachStreams(ctx: HalfContext, session: Session, side: 'client' | 'server', accept?: (stream: TunnelStream) => void): StreamMux | undefined {
  if (!session.wire!.carriesFlows) return undefined
  return new StreamMux(session, { side, accept, maxStreams: ctx.options.maxStreams, halfStreams: ctx.limits.tcpStreams, clock: ctx.deadlines.clock, stats: ctx.stats, drops: ctx.drops, logger: streamsLogger(ctx) })
}

/** The peer's opens are served by a multiplexer built on the first stream frame (Session.streamsOnDemand). */
export function acceptStreams(ctx: HalfContext, session: Session, side: 'client' | 'server', accept: (stream: TunnelStream) => void): void {
  if (!session.wire!.carriesFlows) return
  session.streamsOnDemand = () => attachStreams(ctx, session, side, accept)!
}

const streamLoggers = new WeakMap<HalfContext, Logger>()

/** One 'streams' logger per half, not one per connection. */
function streamsLogger(ctx: HalfContext): Logger {
  let logger = streamLoggers.get(ctx)
  if (!logger) streamLoggers.set(ctx, (logger = ctx.logger.child('streams')))
  return logger
}
