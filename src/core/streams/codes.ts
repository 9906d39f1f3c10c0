/**
 * Why a stream ended or was refused: the `id` of a `close` frame (docs/wire-protocol.md#tcp-streams).
 * 0 is a clean half-close (FIN); every other value resets the stream. The local side maps them to
 * SOCKS replies and HTTP statuses (refused → 0x05 / 502, unreachable → 0x04 / 502, not allowed →
 * 0x02 / 403, timeout → 0x06 / 504). Values are part of wire protocol v1: never renumber them.
 */
import { RelayError, errnoOf } from '../../base/errors.ts'

export const StreamCode = {
  fin: 0,
  /** The destination refused the connection (ECONNREFUSED). */
  refused: 1,
  /** No route, no address, the name did not resolve. */
  unreachable: 2,
  /** The far half's --allow list does not let this destination through. */
  not_allowed: 3,
  /** The destination did not answer within the far half's --connect-timeout. */
  timeout: 4,
  /** The connection was reset or aborted by one of its ends. */
  reset: 5,
  /** The tunnel connection already carries its maximum of streams. */
  too_many: 6,
  /** The other half cannot carry streams (its --out is not a stream connector, or it predates streams). */
  unsupported: 7,
  /** The destination is missing or malformed. */
  bad_destination: 8,
  /** More data than the credit granted, or a window update past 2^31 - 1. */
  flow_control: 9,
  /** A frame that makes no sense in the stream's state. */
  protocol: 10,
  /** The half is stopping, or the tunnel connection was lost. */
  shutdown: 11,
  /** Anything else. */
  internal: 12,
} as const

export type StreamCodeName = keyof typeof StreamCode
export type StreamCodeValue = (typeof StreamCode)[StreamCodeName]

const NAMES: StreamCodeName[] = []
for (const [name, value] of Object.entries(StreamCode)) NAMES[value] = name as StreamCodeName

/** The name of a code received from a peer; unknown values are `internal` (a later version's code). */
export function codeName(value: number): StreamCodeName {
  return NAMES[value] ?? 'internal'
}

/** A stream refused or reset, with its code (`streamCode`) and a text for logs. Its `code` is `E_STREAM_<NAME>`. */
export class StreamError extends RelayError {
  readonly streamCode: StreamCodeName
  constructor(streamCode: StreamCodeName, message: string, options?: { cause?: unknown }) {
    super(`E_STREAM_${streamCode.toUpperCase()}`, message, options)
    this.name = 'StreamError'
    this.streamCode = streamCode
  }
}

export function isStreamError(err: unknown): err is StreamError {
  return err instanceof StreamError
}

/**
 * The stream code for a failed dial or resolution: what a SOCKS or HTTP CONNECT front end reports.
 * Race errors (src/net/dial.ts) carry `reason` and the first attempt's errno.
 */
export function codeOfDialError(err: unknown): StreamCodeName {
  if (isStreamError(err)) return err.streamCode
  const e = err as { code?: string; reason?: string; primary?: { errno?: string } } | undefined
  if (e?.reason === 'timeout') return 'timeout'
  const errno = e?.primary?.errno ?? errnoOf(err)
  switch (errno) {
    case 'ECONNREFUSED':
      return 'refused'
    case 'ETIMEDOUT':
      return 'timeout'
    case 'ECONNRESET':
      return 'reset'
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'unreachable'
  }
  if (e?.code === 'E_RESOLVE' || e?.code?.startsWith('E_RESOLVE') || e?.reason === 'no-addresses' || e?.reason === 'failed') return 'unreachable'
  if (e?.code === 'E_CANCELLED') return 'shutdown'
  return 'internal'
}
