// @ts-self-types="./timing.d.mts"
/**
 * Waiting, for tests and bench scripts alike. Plain JavaScript (types in timing.d.mts) because
 * bench/*.mjs run on the machine's node without a TypeScript loader; the tests import the same
 * file on Node (tsx), Bun and Deno, which all load .mjs as it is.
 *
 * Tests wait for the event that matters (a log line, a datagram, a counter) with waitFor or
 * waitForLine; sleep is for measured durations and for the gaps a timing behaviour is made of.
 */

/** Resolves after `ms` milliseconds. */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Polls `check` until it returns a truthy value (which it returns) or `timeoutMs` passes (then throws, naming `what`). */
export async function waitFor(check, what, timeoutMs = 5000, everyMs = 20) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(everyMs)
  }
}

/** Waits until one of `lines` (a list that grows, e.g. a half's log) matches `pattern` `count` times; returns the last match. The log is in the error. */
export async function waitForLine(lines, pattern, { timeoutMs = 5000, count = 1 } = {}) {
  const matching = () => lines.filter((l) => pattern.test(l))
  try {
    return await waitFor(() => (matching().length >= count ? matching().at(-1) : undefined), `${count > 1 ? `${count} log lines` : 'a log line'} matching ${pattern}`, timeoutMs, 5)
  } catch (err) {
    throw new Error(`${err.message}; the log:\n${lines.join('\n')}`)
  }
}
