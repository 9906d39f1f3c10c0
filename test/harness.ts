/**
 * A tiny test harness that behaves the same on Node, Bun and Deno, so one suite runs unchanged on
 * all three (node:test differs between runtimes in reporting and timeouts). Test files call
 * `test()` at import time; test/entry.ts runs what they registered.
 */

export interface TestContext {
  /** Aborted when the test ends (pass, fail or timeout): tie every resource's lifetime to it. */
  signal: AbortSignal
  /** Registers a cleanup that runs after the test, last registered first. */
  defer(fn: () => unknown): void
  /** The runtime running this test. */
  runtime: 'node' | 'bun' | 'deno'
}

export interface TestOptions {
  /** Milliseconds before the test fails as timed out (default 20 s). */
  timeout?: number
  /**
   * A written reason why the test does not apply here by design (a runtime lacks the API); the
   * runner prints it. For something this machine lacks, use `unavailable`.
   */
  skip?: string | false
  /**
   * Why this machine cannot run the test (network namespaces, a missing program): skipped with the
   * reason, and under CI=true a failure, since CI must have everything.
   */
  unavailable?: string | false
}

export interface RegisteredTest {
  name: string
  file: string
  fn: (t: TestContext) => unknown
  options: TestOptions
}

/**
 * Thrown inside a test to end it as skipped with a reason (test/helpers/peers.ts does, for a test
 * that needs a program test/run.mjs found missing): like `unavailable`, a failure under CI=true.
 */
export class SkipTest extends Error {
  override name = 'SkipTest'
}

export const registered: RegisteredTest[] = []
let currentFile = ''

export function setCurrentFile(file: string): void {
  currentFile = file
}

export function test(name: string, fn: (t: TestContext) => unknown, options: TestOptions = {}): void {
  registered.push({ name, file: currentFile, fn, options })
}

// The waits every test uses, shared with the bench scripts (test/helpers/timing.mjs).
export { sleep, waitFor, waitForLine } from './helpers/timing.mjs'

export function currentRuntime(): 'node' | 'bun' | 'deno' {
  const g = globalThis as Record<string, unknown>
  if (g.Bun) return 'bun'
  if (g.Deno) return 'deno'
  return 'node'
}
