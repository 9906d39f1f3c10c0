import { RelayError } from '../base/errors.ts'

/** Exit codes by failure class (docs/addresses.md E3), so scripts and service managers can tell them apart. */
export const EXIT = { ok: 0, failure: 1, config: 2, family: 3, resolve: 4, listen: 5, connect: 6 } as const

const BY_CODE: Record<string, number> = {
  E_FAMILY_CONFLICT: EXIT.family,
  E_FAMILY_MISMATCH: EXIT.family,
  E_ZONE_MISMATCH: EXIT.family,
  E_RESOLVE: EXIT.resolve,
  E_NO_SUITABLE_ADDRESS: EXIT.resolve,
  E_LISTEN: EXIT.listen,
  E_LISTEN_PORT_SYNC: EXIT.listen,
  E_CONNECT: EXIT.connect,
  E_CONNECT_FAILED: EXIT.connect,
}

export function exitCodeFor(err: unknown): number {
  // RelayErrors, and AggregateErrors with a code (ConnectRaceError, which cannot extend RelayError).
  const code = err instanceof RelayError ? err.code : (err as { code?: unknown } | null)?.code
  if (!(err instanceof Error) || typeof code !== 'string' || !code.startsWith('E_')) return EXIT.failure
  if (code in BY_CODE) return BY_CODE[code]!
  // Everything a user wrote wrong: connector strings, options, codecs, config files.
  if (/^E_(CONFIG|UNKNOWN|INVALID|ENDPOINT|CONNECTOR|IPV6|ZONE|NO_SUCH|DUPLICATE|USAGE|NOT_MULTICAST|UNSUPPORTED)/.test(code)) return EXIT.config
  return EXIT.failure
}
