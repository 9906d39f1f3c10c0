/**
 * Every error edgerelay raises carries a stable `code` (E_*). The CLI maps codes to exit codes
 * (src/cli/exit-codes.ts); library users switch on `code`, never on message text.
 */
export class RelayError extends Error {
  readonly code: string
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'RelayError'
    this.code = code
  }
}

/** Parse errors point at the offending character (0-based index into `input`). */
export class ParseError extends RelayError {
  readonly input: string
  readonly index: number
  constructor(code: string, message: string, input: string, index: number) {
    super(code, `${message} at character ${index + 1} of '${input}'${caret(input, index)}`)
    this.name = 'ParseError'
    this.input = input
    this.index = index
  }
}

function caret(input: string, index: number): string {
  if (input.length > 120) return ''
  return `\n  ${input}\n  ${' '.repeat(Math.max(0, index))}^`
}

export function isRelayError(err: unknown, code?: string): err is RelayError {
  return err instanceof RelayError && (code === undefined || err.code === code)
}

/** Pulls a runtime errno-style code (`EADDRINUSE`, `ECONNREFUSED`) out of an unknown error. */
export function errnoOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code === 'string') return code
  const name = (err as { name?: unknown } | null)?.name
  // Deno's native errors are classes (AddrInUse, ConnectionRefused) rather than codes.
  const map: Record<string, string> = {
    AddrInUse: 'EADDRINUSE',
    AddrNotAvailable: 'EADDRNOTAVAIL',
    ConnectionRefused: 'ECONNREFUSED',
    ConnectionReset: 'ECONNRESET',
    PermissionDenied: 'EACCES',
    TimedOut: 'ETIMEDOUT',
  }
  return typeof name === 'string' ? map[name] : undefined
}
