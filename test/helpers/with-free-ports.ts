import type { TestContext } from '../harness.ts'
import { onFreePorts } from './free-ports.mjs'

/**
 * Runs `start` on `count` free ports. When another process took one of them before it was bound
 * (EADDRINUSE), everything that attempt started is stopped and `start` runs again on new ports
 * (bounded: see onFreePorts). `start` registers its cleanups on the context it is given; after a
 * successful attempt they, and any registered later, run when the test ends.
 */
export function withFreePorts<T>(t: TestContext, count: number, start: (ports: number[], t: TestContext) => Promise<T>): Promise<T> {
  return onFreePorts(count, async (ports) => {
    const cleanups: (() => unknown)[] = []
    let kept = false
    const attempt: TestContext = { ...t, defer: (fn) => (kept ? t.defer(fn) : void cleanups.push(fn)) }
    try {
      const value = await start(ports, attempt)
      kept = true
      for (const fn of cleanups) t.defer(fn)
      return value
    } catch (err) {
      for (const fn of cleanups.reverse()) await Promise.resolve().then(fn).catch(() => {})
      throw err
    }
  })
}
