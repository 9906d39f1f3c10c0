import type { HalfContext } from '../connector.ts'
import type { OpenedStream, OpenRequest, StreamOpener } from './byte-stream.ts'
import { StreamError } from './codes.ts'
import type { StreamMux } from './mux.ts'
import type { TunnelStream } from './tunnel-stream.ts'

/** Waits for the far end to accept `stream`; `signal` gives up (the stream is reset). */
export async function openedUnlessAborted(stream: TunnelStream, signal: AbortSignal | undefined): Promise<void> {
  const onAbort = () => stream.reset(new StreamError('reset', 'the client went away before the stream opened'))
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    await stream.opened
  } finally {
    signal?.removeEventListener('abort', onAbort)
  }
}

/** Opens waiting for a tunnel connection at most (beyond: refused at once). */
const MAX_WAITING = 1024

interface Waiter {
  resolve(mux: StreamMux): void
  reject(err: StreamError): void
  timer: unknown
}

/**
 * The opening side of a tunnel (the tunnel used as --out): each new stream goes on the connection
 * that carries the fewest, so `connections=N` spreads them and one lost connection costs only its
 * own. While no connection is up, opens wait (bounded in number and in time: --connect-timeout).
 */
export class StreamPool implements StreamOpener {
  private readonly ctx: HalfContext
  private readonly text: string
  private readonly muxes = new Set<StreamMux>()
  private waiters: Waiter[] = []
  private turn = 0

  constructor(ctx: HalfContext, text: string) {
    this.ctx = ctx
    this.text = text
  }

  get connections(): number {
    return this.muxes.size
  }

  add(mux: StreamMux): void {
    this.muxes.add(mux)
    mux.session.onClose(() => this.muxes.delete(mux))
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) {
      this.ctx.deadlines.clock.clearTimer(w.timer)
      this.pick().then(w.resolve, w.reject)
    }
  }

  async openStream(req: OpenRequest): Promise<OpenedStream> {
    const mux = await this.pick()
    if (req.signal?.aborted) throw new StreamError('reset', 'the client went away before the stream opened')
    const stream = mux.open(req.dst, req.src)
    await openedUnlessAborted(stream, req.signal)
    return { stream, bound: stream.bound }
  }

  /** Refuses waiting opens (the half stops). */
  close(): void {
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) {
      this.ctx.deadlines.clock.clearTimer(w.timer)
      w.reject(new StreamError('shutdown', `${this.text}: the half is stopping`))
    }
  }

  private pick(): Promise<StreamMux> {
    // The least loaded; among equals, the next after the one picked last time (round robin).
    const all = [...this.muxes]
    let best: StreamMux | undefined
    for (let i = 0; i < all.length; i++) {
      const m = all[(this.turn + i) % all.length]!
      if (m.canOpen && (best === undefined || m.size < best.size)) best = m
    }
    this.turn++
    if (best) return Promise.resolve(best)
    if (this.muxes.size > 0) {
      if (all.every((m) => m.peerLacksStreams)) return Promise.reject(new StreamError('unsupported', `${this.text}: the other half does not support TCP streams: upgrade it`))
      return Promise.reject(new StreamError('too_many', `${this.text}: every tunnel connection carries its maximum of streams (--max-streams)`))
    }
    if (this.ctx.signal.aborted) return Promise.reject(new StreamError('shutdown', `${this.text}: the half is stopping`))
    if (this.waiters.length >= MAX_WAITING) return Promise.reject(new StreamError('too_many', `${this.text}: ${MAX_WAITING} streams already wait for a tunnel connection`))
    const waitMs = this.ctx.options.connectTimeoutMs
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: this.ctx.deadlines.clock.setTimer(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter)
          reject(new StreamError('unreachable', `${this.text}: no tunnel connection to the other half within ${waitMs} ms`))
        }, waitMs),
      }
      this.waiters.push(waiter)
    })
  }
}
