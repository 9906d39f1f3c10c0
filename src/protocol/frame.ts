/**
 * The envelope every codec encodes (docs/wire-protocol.md#the-frame). Field numbers and kind values are part of
 * wire protocol v1: never renumber them.
 */
export const Kind = {
  request: 1,
  reply: 2,
  event: 3,
  open: 4,
  data: 5,
  close: 6,
  ping: 7,
  pong: 8,
  error: 9,
  window: 10,
} as const

export type KindName = keyof typeof Kind
export type KindValue = (typeof Kind)[KindName]

export const KIND_NAMES: readonly (KindName | undefined)[] = (() => {
  const names: (KindName | undefined)[] = []
  for (const [name, value] of Object.entries(Kind)) names[value] = name as KindName
  return names
})()

export function isKind(value: number): value is KindValue {
  return KIND_NAMES[value] !== undefined
}

export interface Frame {
  /** Flow id on this tunnel connection (u32); 0 for connection-level frames such as ping. */
  flow: number
  /** Request id (u32) or 0. */
  id: number
  kind: KindValue
  payload: Uint8Array
  /** Optional source address, `host:port` or `[v6]:port`. */
  src?: string
  /** Optional destination address, same form as src. */
  dst?: string
  /** Optional human-readable error text (kind error). */
  error?: string
}

/** Largest UDP payload over IPv4 (65,535 − 8 − 20). */
export const MAX_DATAGRAM = 65_507
/** Largest payload a frame may carry (codecs must round-trip it exactly). */
export const MAX_PAYLOAD = 65_535
/** Upper bound for one encoded frame: payload plus generous room for header, addresses and error text. */
export const MAX_ENCODED_FRAME = MAX_PAYLOAD + 4096
