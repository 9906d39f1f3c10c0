/**
 * Warnings a peer can cause (a refusal, a failed handshake, a connection that broke) must not let
 * a flood of peers flood the log. Per kind and per interval (10 s) at most `perPeer` lines for one
 * peer and at most `perKind` lines in all; what is held back is counted, and one summary line per
 * kind says how many and from how many peers once the interval is over. So a kind costs at most
 * perKind + 1 lines per interval, whatever the attack. Every line names the peer; counters are kept by the
 * caller (Stats), not here.
 */
import { systemClock, type Clock, type TimerHandle } from './clock.ts'
import type { LogFields } from './logger.ts'

export interface WarningLimiterOptions {
  intervalMs?: number
  /** Lines per kind and interval. */
  perKind?: number
  /** Lines per kind, peer and interval. */
  perPeer?: number
  clock?: Clock
}

/** Distinct peers counted in a summary, at most (beyond: "more than"). */
const MAX_TRACKED_PEERS = 1024

interface KindWindow {
  started: number
  lines: number
  /** Peers logged or held back in this window, with the lines logged for each. */
  peers: Map<string, number>
  suppressed: number
  suppressedPeers: number
  timer: TimerHandle | undefined
}

export class WarningLimiter {
  private readonly emit: (line: string, fields: LogFields | undefined, level: 'warn' | 'info') => void
  private readonly intervalMs: number
  private readonly perKind: number
  private readonly perPeer: number
  private readonly clock: Clock
  private readonly kinds = new Map<string, KindWindow>()

  /** `emit` writes a line at `level` (warn, or info for `info()`); summaries are warnings. */
  constructor(emit: (line: string, fields: LogFields | undefined, level: 'warn' | 'info') => void, opts: WarningLimiterOptions = {}) {
    this.emit = emit
    this.intervalMs = opts.intervalMs ?? 10_000
    this.perKind = opts.perKind ?? 10
    this.perPeer = opts.perPeer ?? 3
    this.clock = opts.clock ?? systemClock
  }

  /** Logs `message` (which names `peer`) unless this kind already said enough in this interval. */
  warn(kind: string, peer: string, message: string, fields?: LogFields): void {
    this.log('warn', kind, peer, message, fields, this.emit)
  }

  /** The same for an information line a peer causes (a tunnel connected, disconnected). */
  info(kind: string, peer: string, message: string, fields?: LogFields): void {
    this.log('info', kind, peer, message, fields, this.emit)
  }

  /** The same limits, the lines written through `logger` (a connector's, whose tag they keep). */
  through(logger: { warn(m: string, f?: LogFields): void; info(m: string, f?: LogFields): void }): Pick<WarningLimiter, 'warn' | 'info'> {
    const emit = (m: string, f: LogFields | undefined, level: 'warn' | 'info') => logger[level](m, f)
    return {
      warn: (kind, peer, message, fields) => this.log('warn', kind, peer, message, fields, emit),
      info: (kind, peer, message, fields) => this.log('info', kind, peer, message, fields, emit),
    }
  }

  private log(level: 'warn' | 'info', kind: string, peer: string, message: string, fields: LogFields | undefined, emit: WarningLimiter['emit']): void {
    const now = this.clock.now()
    let w = this.kinds.get(kind)
    if (w && now - w.started >= this.intervalMs) {
      this.summarize(kind, w)
      w = undefined
    }
    if (!w) {
      w = { started: now, lines: 0, peers: new Map(), suppressed: 0, suppressedPeers: 0, timer: undefined }
      this.kinds.set(kind, w)
    }
    const logged = w.peers.get(peer)
    if (w.lines < this.perKind && (logged ?? 0) < this.perPeer && (logged !== undefined || w.peers.size < MAX_TRACKED_PEERS)) {
      w.lines++
      w.peers.set(peer, (logged ?? 0) + 1)
      emit(message, fields, level)
      return
    }
    w.suppressed++
    if (logged === undefined && w.peers.size < MAX_TRACKED_PEERS) {
      w.peers.set(peer, 0)
      w.suppressedPeers++
    }
    w.timer ??= this.clock.setTimer(() => this.expire(kind, w!), Math.max(0, w.started + this.intervalMs - now))
  }

  /** Writes the pending summaries now (a half that stops). */
  flush(): void {
    for (const [kind, w] of this.kinds) this.summarize(kind, w)
  }

  private expire(kind: string, w: KindWindow): void {
    w.timer = undefined
    if (this.kinds.get(kind) === w) this.summarize(kind, w)
  }

  private summarize(kind: string, w: KindWindow): void {
    if (w.timer !== undefined) this.clock.clearTimer(w.timer)
    w.timer = undefined
    if (this.kinds.get(kind) === w) this.kinds.delete(kind)
    if (w.suppressed === 0) return
    const seconds = Math.round(this.intervalMs / 100) / 10
    const others = w.suppressedPeers === 0 ? 'from the peers named above' : `from ${w.peers.size >= MAX_TRACKED_PEERS ? 'at least ' : ''}${w.suppressedPeers} other peer${w.suppressedPeers === 1 ? '' : 's'} too`
    this.emit(`${w.suppressed} more '${kind}' lines in ${seconds} s not logged (${others})`, { code: 'W_SUPPRESSED' }, 'warn')
  }
}
