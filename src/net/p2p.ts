/**
 * udp/p2p's family rules (docs/addresses.md U7): which local addresses to bind and which peer
 * address to send to, from the local addresses and the peer's. Pure: the connector resolves both
 * first and binds what this returns.
 */
import type { Family, ResolvedAddress } from '../ports/runtime.ts'
import { RelayError } from '../base/errors.ts'
import { bracketed, hostPort } from '../base/address.ts'

export interface P2pPlan {
  /** Local addresses to bind: those of a family the peer has. */
  bind: ResolvedAddress[]
  /** Where datagrams go: the peer's first address (resolver order) of a family bound here. */
  peer: ResolvedAddress
  /** The peer addresses datagrams are accepted from: every one of a family bound here. */
  accept: ResolvedAddress[]
}

const families = (list: ResolvedAddress[]): Set<Family> => new Set(list.map((a) => a.family))
const named = (list: ResolvedAddress[]): string => list.map((a) => bracketed(a.address)).join(', ')
const familyText = (set: Set<Family>): string => [...set].sort().map((f) => `IPv${f}`).join(' and ')

/**
 * Binds every local address of a family the peer has, and talks to the peer over the families
 * bound. A peer family with no local address is left out with W_FAMILY_FILTERED (sent through
 * `warn`); no family in common is E_FAMILY_MISMATCH (exit code 3).
 */
export function planP2p(local: ResolvedAddress[], peer: ResolvedAddress[], peerPort: number, text: string, warn: (msg: string) => void): P2pPlan {
  const peerFamilies = families(peer)
  const bind = local.filter((a) => peerFamilies.has(a.family))
  if (bind.length === 0) {
    throw new RelayError('E_FAMILY_MISMATCH', `${text}: the local address has only ${familyText(families(local))} (${named(local)}) and the peer only ${familyText(peerFamilies)} (${named(peer)}); bind an address of the peer's family`)
  }
  const bound = families(bind)
  const accept = peer.filter((a) => bound.has(a.family))
  if (accept.length < peer.length) {
    const dropped = peer.filter((a) => !bound.has(a.family))
    warn(`W_FAMILY_FILTERED ${text}: no local ${familyText(families(dropped))} address is bound, so the peer's ${dropped.map((a) => hostPort(a.address, peerPort)).join(', ')} cannot be used; talking to ${accept.map((a) => hostPort(a.address, peerPort)).join(', ')}`)
  }
  return { bind, peer: accept[0]!, accept }
}

/** Compares addresses as sockets report them: without a zone, lowercase. */
export function sameAddress(a: string, b: string): boolean {
  return a.replace(/%.*$/, '').toLowerCase() === b.replace(/%.*$/, '').toLowerCase()
}
