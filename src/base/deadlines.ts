/**
 * One timer for many deadlines: every tunnel session of a half (hello limit, heartbeat, close
 * grace) has at most one pending deadline here, and a single clock timer is set for the earliest.
 * A thousand idle tunnels cost one timer, not a thousand, and a fake clock drives them all in
 * tests. Items are kept in a binary min-heap by time; an item is in the heap at most once.
 */
import { systemClock, type Clock, type TimerHandle } from './clock.ts'

/** Something with one deadline at a time. The service owns `deadlineAt` and `deadlineSlot`. */
export interface Deadline {
  /** Called once when the deadline passes (after it has been removed: it may schedule again). */
  onDeadline(now: number): void
  deadlineAt: number
  /** Position in the heap, -1 when not scheduled. */
  deadlineSlot: number
}

export class Deadlines {
  readonly clock: Clock
  private readonly heap: Deadline[] = []
  private timer: TimerHandle | undefined
  private timerAt = Infinity

  constructor(clock: Clock = systemClock) {
    this.clock = clock
  }

  get size(): number {
    return this.heap.length
  }

  /** Schedules (or moves) `item`'s deadline to `at` (a clock time). */
  set(item: Deadline, at: number): void {
    if (item.deadlineSlot >= 0) {
      const before = item.deadlineAt
      item.deadlineAt = at
      if (at < before) this.up(item.deadlineSlot)
      else this.down(item.deadlineSlot)
    } else {
      item.deadlineAt = at
      item.deadlineSlot = this.heap.length
      this.heap.push(item)
      this.up(item.deadlineSlot)
    }
    this.arm()
  }

  /** Removes `item`'s deadline, if it has one. */
  clear(item: Deadline): void {
    if (item.deadlineSlot < 0) return
    this.remove(item)
    this.arm()
  }

  private remove(item: Deadline): void {
    const slot = item.deadlineSlot
    item.deadlineSlot = -1
    const last = this.heap.pop()!
    if (slot < this.heap.length) {
      this.heap[slot] = last
      last.deadlineSlot = slot
      this.up(slot)
      this.down(last.deadlineSlot)
    }
  }

  private arm(): void {
    const first = this.heap[0]
    const at = first ? first.deadlineAt : Infinity
    if (at === this.timerAt) return
    if (this.timer !== undefined) this.clock.clearTimer(this.timer)
    this.timer = undefined
    this.timerAt = at
    if (first) this.timer = this.clock.setTimer(() => this.fire(), Math.max(0, at - this.clock.now()))
  }

  private fire(): void {
    this.timer = undefined
    this.timerAt = Infinity
    const now = this.clock.now()
    // Bounded: each due item is removed before it runs; one that reschedules for now or earlier
    // runs again only on the next timer.
    const due: Deadline[] = []
    while (this.heap.length > 0 && this.heap[0]!.deadlineAt <= now) {
      const item = this.heap[0]!
      this.remove(item)
      due.push(item)
    }
    for (const item of due) item.onDeadline(now)
    this.arm()
  }

  private up(slot: number): void {
    const heap = this.heap
    const item = heap[slot]!
    while (slot > 0) {
      const parent = (slot - 1) >> 1
      if (heap[parent]!.deadlineAt <= item.deadlineAt) break
      heap[slot] = heap[parent]!
      heap[slot]!.deadlineSlot = slot
      slot = parent
    }
    heap[slot] = item
    item.deadlineSlot = slot
  }

  private down(slot: number): void {
    const heap = this.heap
    const item = heap[slot]!
    const n = heap.length
    for (;;) {
      let child = 2 * slot + 1
      if (child >= n) break
      if (child + 1 < n && heap[child + 1]!.deadlineAt < heap[child]!.deadlineAt) child++
      if (heap[child]!.deadlineAt >= item.deadlineAt) break
      heap[slot] = heap[child]!
      heap[slot]!.deadlineSlot = slot
      slot = child
    }
    heap[slot] = item
    item.deadlineSlot = slot
  }
}
