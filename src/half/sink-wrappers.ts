/**
 * What sits between a half's in and out connectors when asked for: the rate limit and the
 * --debug packet dumps. Each is a PacketSink around the out connector, so a half without them
 * hands packets straight to the out connector and pays nothing on the hot path.
 */
import type { HalfContext, OutSide, PacketKind, PacketSink } from '../core/connector.ts'
import type { Flow } from '../core/flow.ts'
import { TokenBucket } from '../core/rate-limit.ts'
import { hexDump } from '../base/hex-dump.ts'
import type { Logger } from '../base/logger.ts'

/** Drops (counted, logged at most once a second) what exceeds the bucket (one per half, shared by its --in connectors). */
export function rateLimited(out: OutSide, ctx: HalfContext, bucket: TokenBucket, limit: string): OutSide {
  return passOn(out, {
    send(flow: Flow, kind: PacketKind, id: number, payload: Uint8Array) {
      if (bucket.take()) out.send(flow, kind, id, payload)
      else ctx.drops.drop('rate_limit', `${flow.label}: ${kind} over rate-limit ${limit}`)
    },
  })
}

/** A wrapper around datagrams keeps what the wrapped side does besides: streams, flow destinations. */
function passOn(out: OutSide, wrapper: PacketSink): OutSide {
  const side: OutSide = { send: wrapper.send, takesDestinations: out.takesDestinations === true }
  if (out.openStream) side.openStream = out.openStream.bind(out)
  return side
}

/** Logs one packet as uhppoted-tunnel's --debug does: a header line, then the hex dump. */
export function dumpPacket(log: Logger, header: string, payload: Uint8Array): void {
  log.debug(`${header} (${payload.length} bytes)\n${hexDump(payload, '    ').join('\n')}`)
}

/**
 * Dumps every packet going out (`request`/`event` with the flow) and every reply coming back
 * through the same flow. Replies are seen by giving each flow, once, its own reply method that
 * dumps and then does what Flow's does: the out connector keeps its state on the flow itself, so
 * the flow must stay the same object.
 */
export function dumping(out: OutSide, log: Logger): OutSide {
  const seen = new WeakSet<Flow>()
  return passOn(out, {
    send(flow, kind, id, payload) {
      dumpPacket(log, `${flow.label} -> ${kind} ${id}`, payload)
      if (!seen.has(flow)) {
        seen.add(flow)
        const reply = flow.reply.bind(flow)
        flow.reply = (rid, data) => {
          if (!flow.closed) dumpPacket(log, `${flow.label} <- reply ${rid}`, data)
          reply(rid, data)
        }
      }
      out.send(flow, kind, id, payload)
    },
  })
}
