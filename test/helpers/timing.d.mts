/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void>
/** Polls `check` until it returns a truthy value (which it returns) or `timeoutMs` passes (then throws, naming `what`). */
export function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs?: number, everyMs?: number): Promise<NonNullable<T>>
/** Waits until one of `lines` matches `pattern` `count` times (default 1); returns the last match. */
export function waitForLine(lines: readonly string[], pattern: RegExp, opts?: { timeoutMs?: number; count?: number }): Promise<string>
