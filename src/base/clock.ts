/**
 * Time as the core sees it: a clock that reads the time and sets one-shot timers. The system
 * clock uses Date.now and setTimeout (standard on every runtime and in browsers); unit tests pass
 * a fake one to drive deadlines without waiting.
 */
export type TimerHandle = unknown

export interface Clock {
  now(): number
  /** Runs `fn` once after `ms`; the timer does not keep a process alive by itself. */
  setTimer(fn: () => void, ms: number): TimerHandle
  clearTimer(handle: TimerHandle): void
}

/** Housekeeping timers must not keep a process alive on their own (Node/Bun `unref`). */
export function unrefTimer<T>(timer: T): T {
  ;(timer as { unref?: () => void }).unref?.()
  return timer
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (fn, ms) => unrefTimer(setTimeout(fn, ms)),
  clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
}
