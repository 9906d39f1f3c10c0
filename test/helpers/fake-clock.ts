import type { Clock } from '../../src/base/clock.ts'

/** A clock that moves only when told: timers fire inside advance(), in time order. */
export class FakeClock implements Clock {
  time = 0
  private timers: { at: number; fn: () => void; id: number }[] = []
  private nextId = 1

  now(): number {
    return this.time
  }

  setTimer(fn: () => void, ms: number): number {
    const id = this.nextId++
    this.timers.push({ at: this.time + ms, fn, id })
    return id
  }

  clearTimer(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle)
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.timers.length
  }

  /** Moves time forward by `ms`, firing every timer due on the way, earliest first. */
  advance(ms: number): void {
    const end = this.time + ms
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.id - b.id)
      const next = this.timers[0]
      if (!next || next.at > end) break
      this.timers.shift()
      this.time = next.at
      next.fn()
    }
    this.time = end
  }
}
