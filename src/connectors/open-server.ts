/**
 * W_OPEN_SERVER: a server any host can reach with neither a token nor client certificates is
 * open to all of them. Said once, at start, with who can reach it (issue 13 item 8).
 */
import { formatAddress } from '../base/address.ts'
import type { Logger } from '../base/logger.ts'
import type { HalfContext } from '../core/connector.ts'
import type { StreamListener } from '../ports/runtime.ts'

const isLoopback = (address: string) => /^127\./.test(address) || address === '::1'
const isWildcard = (address: string) => address === '0.0.0.0' || address === '::'

/**
 * Warns once when `listeners` include a non-loopback address and the half has neither --token
 * (when `tokenApplies`: the HTTP API has none) nor --client-auth.
 */
export function warnIfOpen(ctx: HalfContext, log: Logger, name: string, listeners: StreamListener[], note = '', tokenApplies = true): void {
  const { token, tls } = ctx.options
  if ((tokenApplies && token !== undefined) || (tls.clientAuth && tls.cert)) return
  const reachable = listeners.map((l) => l.local).filter((a) => !isLoopback(a.address))
  if (reachable.length === 0) return
  const who = reachable.map((a) => (isWildcard(a.address)
    ? `any host that reaches this one on port ${a.port} (${formatAddress(a)}: every interface)`
    : `any host that reaches ${formatAddress(a)}`)).join(' and ')
  const missing = tokenApplies ? 'neither --token nor --client-auth' : 'no --client-auth (the HTTP API has no token)'
  log.warn(`W_OPEN_SERVER ${name} listens with ${missing}: ${who} can send through this half${note}`, { code: 'W_OPEN_SERVER' })
}
