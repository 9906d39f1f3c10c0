import type { HalfContext } from '../connector.ts'
import type { StreamOpener } from './byte-stream.ts'
import { codeOfDialError, isStreamError, StreamError } from './codes.ts'
import { LogBudget } from './log-budget.ts'
import { pipe } from './pipe.ts'
import type { TunnelStream } from './tunnel-stream.ts'

/**
 * The accepting side of a tunnel (the tunnel used as --in): each stream the peer opens is opened
 * again through this half's --out (tcp/connect, tcp/dial, or the next tunnel of a middle hop),
 * accepted once that succeeded and joined to it, or refused with the reason.
 */
export function streamAcceptor(ctx: HalfContext, out: Partial<StreamOpener>, outText: string): (stream: TunnelStream) => void {
  const log = ctx.logger.child('streams')
  const budget = new LogBudget()
  return (stream) => {
    const asked = `${stream.src ?? 'a client'} → ${stream.dst ?? '(the --out destination)'} (${stream.label})`
    const refuse = (err: StreamError) => {
      ctx.stats.add(`streams.refused.${err.streamCode}`)
      budget.log((m) => log.info(m), `refused ${asked}: ${err.message}`)
      stream.refuse(err)
    }
    if (!out.openStream) return refuse(new StreamError('unsupported', `this half's --out (${outText}) does not carry TCP streams`))
    out.openStream({ dst: stream.dst, src: stream.src, signal: stream.signal }).then(
      (opened) => {
        if (!stream.accept(opened.bound)) {
          opened.stream.reset(new StreamError('reset', `${stream.label} was given up before it opened`))
          return
        }
        ctx.stats.add('streams.accepted')
        budget.log((m) => log.debug(m), `opened ${asked}`)
        pipe(stream, opened.stream)
      },
      (err: unknown) => refuse(isStreamError(err) ? err : new StreamError(codeOfDialError(err), (err as Error)?.message ?? String(err))),
    )
  }
}
