/**
 * A destination the other side named (a stream's `dst`, a SOCKS5 UDP datagram's), parsed and
 * checked against --allow before and after resolution: what tcp/dial does before it dials TCP or
 * sends UDP. Every refusal is logged (within a budget) with the destination and the entry.
 */
import type { Logger } from '../base/logger.ts'
import type { ResolvedAddress, StreamConn } from '../ports/runtime.ts'
import type { HalfContext } from '../core/connector.ts'
import { codeOfDialError, isStreamError, StreamError } from '../core/streams/codes.ts'
import type { LogBudget } from '../core/streams/log-budget.ts'
import { addressBytes, type Allowlist } from '../net/allowlist.ts'
import { formatHostPort, parseHostPort, type Endpoint } from '../net/endpoint.ts'
import { resolveConnect } from '../net/resolve.ts'

export interface AllowedDestination {
  endpoint: Endpoint
  /** The canonical `host:port`. */
  text: string
  /** The addresses --allow lets through, in resolution order. */
  addresses: ResolvedAddress[]
  /**
   * On a platform that resolves a name only as it connects (the edge): checks the address the
   * connection reached, before anything is relayed; throws the refusal.
   */
  checkReached?: (conn: StreamConn) => void
}

export interface DestinationCheck {
  ctx: HalfContext
  allow: Allowlist
  log: Logger
  budget: LogBudget
  /** `streams` or `datagrams`: what was refused, in the log line and the stat (`streams.not_allowed`). */
  what: string
}

/** Throws a StreamError: `bad_destination`, `not_allowed`, or what resolution failed with (`unreachable`). */
export async function allowedDestination(check: DestinationCheck, dst: string, src: string | undefined): Promise<AllowedDestination> {
  const { ctx, allow, log, budget, what } = check
  const refuse = (text: string, why: string): never => {
    ctx.stats.add(`${what}.not_allowed`)
    budget.log((m) => log.warn(m), `refused ${what === 'streams' ? '' : `${what} to `}${text} for ${src ?? 'the other half'}: ${why}`)
    throw new StreamError('not_allowed', `${text} is not allowed by this half's --allow (${why})`)
  }
  let endpoint: Endpoint
  try {
    endpoint = parseHostPort(dst, { role: 'connect' })
  } catch (err) {
    throw new StreamError('bad_destination', `destination '${dst.slice(0, 300)}': ${(err as Error).message}`)
  }
  const text = formatHostPort(endpoint)
  const verdict = allow.checkName(endpoint.hostKind === 'name' ? endpoint.host : text.replace(/:\d+$/, ''), endpoint.port)
  if (!verdict.allowed) refuse(text, verdict.why)
  let addresses: ResolvedAddress[]
  try {
    addresses = await resolveConnect(ctx.runtime, endpoint, text, ctx.options.family)
  } catch (err) {
    throw isStreamError(err) ? err : new StreamError(codeOfDialError(err), (err as Error)?.message ?? String(err), { cause: err })
  }
  if (endpoint.hostKind === 'name' && ctx.runtime.capabilities.resolvesAtConnect === true) {
    const checkReached = (conn: StreamConn) => {
      const reached = conn.remote.address
      if (!addressBytes(reached)) {
        if (!verdict.byName) refuse(text, `only address entries could allow this name, and the ${ctx.runtime.name} platform did not say which address it reached`)
        return
      }
      const checked = allow.checkAddresses([{ address: reached, family: conn.remote.family }], endpoint.port, verdict.byName)
      if (checked.allowed.length === 0) refuse(text, `it reached ${reached}: ${checked.denied[0]!.why}`)
    }
    return { endpoint, text, addresses, checkReached }
  }
  if (endpoint.hostKind === 'name') {
    const checked = allow.checkAddresses(addresses, endpoint.port, verdict.byName)
    if (checked.allowed.length === 0) refuse(text, checked.denied.map((d) => `${d.address}: ${d.why}`).join('; '))
    if (checked.denied.length > 0) budget.log((m) => log.info(m), `${text}: not using ${checked.denied.map((d) => `${d.address} (${d.why})`).join(', ')}`)
    addresses = checked.allowed
  }
  return { endpoint, text, addresses }
}
