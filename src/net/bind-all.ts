import type { ResolvedAddress, SocketAddress } from '../ports/runtime.ts'
import { RelayError, errnoOf } from '../base/errors.ts'

export interface Bound {
  readonly local: SocketAddress
  close(): unknown
}

/** One failed bind inside a ListenError. */
export interface BindFailure {
  address: string
  port: number
  errno?: string
  message: string
}

export class ListenError extends RelayError {
  readonly failures: BindFailure[]
  constructor(text: string, failures: BindFailure[]) {
    const list = failures.map((f) => `${f.address.includes(':') ? `[${f.address}]` : f.address}:${f.port}: ${f.message}`).join('; ')
    super('E_LISTEN', `${text}: cannot listen: ${list}`)
    this.name = 'ListenError'
    this.failures = failures
  }
}

const FAMILY_MISSING = new Set(['EAFNOSUPPORT', 'EADDRNOTAVAIL'])
const PORT_SYNC_TRIES = 5

/**
 * Decides whether a failed bind may be skipped: returns the warning to log, or undefined when
 * the failure is fatal.
 */
export type SkipRule = (addr: ResolvedAddress, errno: string | undefined) => string | undefined

/** `udp/listen:*` sockets on enumerated addresses: an address that vanished or is not ready yet
 * (IPv6 duplicate address detection) is skipped, and the next rescan tries it again (U1, U4). */
export const skipUnavailableAddress = (text: string): SkipRule => (addr, errno) =>
  errno && FAMILY_MISSING.has(errno) ? `W_ADDRESS_UNAVAILABLE ${text}: cannot bind ${addr.family === 6 ? `[${addr.address}]` : addr.address} now (${errno}); skipped until the next rescan` : undefined

/**
 * Binds every address as one unit (docs/addresses.md S1, S4, S5): all or nothing for explicit addresses; for
 * a wildcard, a family the host lacks is skipped with a warning (or `wildcard` is a SkipRule of
 * its own). Port 0 gives one port number on every socket: the first socket's ephemeral port is
 * reused for the rest, retried on collision.
 */
export async function bindAll<T extends Bound>(
  text: string,
  addresses: ResolvedAddress[],
  port: number,
  wildcard: boolean | SkipRule,
  bind: (address: ResolvedAddress, port: number) => Promise<T>,
  warn: (msg: string) => void,
): Promise<T[]> {
  for (let attempt = 0; ; attempt++) {
    const bound: T[] = []
    let chosenPort = port
    let collided = false
    const failures: BindFailure[] = []
    for (const addr of addresses) {
      try {
        const sock = await bind(addr, chosenPort)
        bound.push(sock)
        if (chosenPort === 0) chosenPort = sock.local.port
      } catch (err) {
        const errno = errnoOf(err)
        const skip = typeof wildcard === 'function' ? wildcard(addr, errno) : undefined
        if (skip !== undefined) {
          warn(skip)
          continue
        }
        if (wildcard === true && errno && FAMILY_MISSING.has(errno)) {
          warn(`W_FAMILY_UNAVAILABLE ${text}: IPv${addr.family} is not available on this host, listening without it`)
          continue
        }
        // The runtime could not make `::` IPv6-only, so it already receives IPv4 (docs/addresses.md S3). With
        // port 0 the same error could be a real collision on the ephemeral port: believe it only
        // when it happens again on a new port.
        if (wildcard === true && errno === 'EADDRINUSE' && addr.family === 4 && bound.some((b) => b.local.family === 6) && (port !== 0 || attempt > 0)) {
          warn(`W_V6ONLY_UNSUPPORTED ${text}: this runtime's [::] socket is dual-stack and already covers IPv4`)
          continue
        }
        if (port === 0 && bound.length > 0 && errno === 'EADDRINUSE') collided = true
        failures.push({ address: addr.address, port: chosenPort, errno, message: (err as Error).message })
        break
      }
    }
    if (failures.length === 0 && bound.length > 0) return bound
    for (const b of bound) await b.close()
    if (collided && attempt + 1 < PORT_SYNC_TRIES) continue
    if (collided) throw new RelayError('E_LISTEN_PORT_SYNC', `${text}: could not find one free port for every address after ${PORT_SYNC_TRIES} tries`)
    if (failures.length === 0) throw new ListenError(text, [{ address: '*', port, message: 'no address family is available' }])
    throw new ListenError(text, failures)
  }
}

/** Where one socket of a listener binds: the address, its family, and IPV6_V6ONLY for IPv6 unless one dual-stack socket was asked for (`,ipv6only=0`, S3). */
export function listenAt(addr: ResolvedAddress, port: number, dualStack = false): { address: string; port: number; family: ResolvedAddress['family']; ipv6Only: boolean } {
  return { address: addr.address, port, family: addr.family, ipv6Only: addr.family === 6 && !dualStack }
}
