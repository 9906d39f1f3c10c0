import type { Family, ResolvedAddress, Runtime } from '../ports/runtime.ts'
import { RelayError } from '../base/errors.ts'
import { ListenError } from './bind-all.ts'
import type { Endpoint } from './endpoint.ts'

/** The literal a socket API takes for an endpoint's host, zone included (`fe80::1%eth0`). */
export function literalOf(ep: Endpoint): string {
  return ep.zone ? `${ep.host}%${ep.zone}` : ep.host
}

function allowed(family: Family, forced?: Family): boolean {
  return forced === undefined || forced === family
}

/**
 * The family an endpoint is restricted to (F1, F2): its own digit (`tcp6/…`) or the global
 * --ipv4/--ipv6. Both given and different is a contradiction (F3).
 */
export function effectiveFamily(ep: Endpoint, global: Family | undefined, text: string): Family | undefined {
  if (ep.family !== undefined && global !== undefined && ep.family !== global) {
    throw new RelayError('E_FAMILY_CONFLICT', `${text}: this connector is IPv${ep.family} only, which contradicts --ipv${global}`)
  }
  return ep.family ?? global
}

function checkLiteralFamily(ep: Endpoint, forced: Family | undefined, text: string): void {
  const family: Family = ep.hostKind === 'ipv6' ? 6 : 4
  if (forced !== undefined && forced !== family) {
    throw new RelayError('E_FAMILY_CONFLICT', `${text}: an IPv${family} address cannot be used with --ipv${forced}`)
  }
}

/**
 * Whether a listening endpoint asks for one dual-stack IPv6 socket (`,ipv6only=0`, docs/addresses.md P7, S3)
 * instead of an IPv6-only `[::]` (the default; `ipv6only` and `ipv6only=1` say so explicitly).
 */
export function dualStackRequested(ep: Endpoint, text: string): boolean {
  const v = ep.options.ipv6only
  if (v === undefined || v === '' || v === '1') return false
  if (v === '0') return true
  throw new RelayError('E_CONFIG', `${text}: ipv6only is 0 or 1, not '${v}'`)
}

/**
 * Addresses to bind for a listening endpoint: a wildcard means every enabled family (`::` first,
 * so a runtime whose `::` is always dual-stack covers IPv4 too), a name means every address it
 * resolves to (docs/addresses.md S2). A family the host has no address of is left out of a wildcard with
 * W_FAMILY_UNAVAILABLE (S5, F5): binding `::` succeeds even with IPv6 disabled, and would
 * only pretend to listen.
 */
export async function resolveListen(rt: Runtime, ep: Endpoint, text: string, family?: Family, warn?: (msg: string) => void): Promise<ResolvedAddress[]> {
  const forced = effectiveFamily(ep, family, text)
  switch (ep.hostKind) {
    case 'wildcard': {
      const present = rt.networkInterfaces ? new Set(rt.networkInterfaces().map((a) => a.family)) : new Set<Family>([4, 6])
      const out: ResolvedAddress[] = []
      // One dual-stack [::] socket covers IPv4 too, when asked for and IPv6 is there.
      const dualStack = dualStackRequested(ep, text) && present.has(6) && allowed(6, forced)
      for (const [f, address] of [[6, '::'], [4, '0.0.0.0']] as const) {
        if (!allowed(f, forced) || (f === 4 && dualStack)) continue
        if (!present.has(f) && present.size > 0) {
          if (forced === f) throw new ListenError(text, [{ address, port: ep.port, message: `this host has no IPv${f} address` }])
          warn?.(`W_FAMILY_UNAVAILABLE ${text}: this host has no IPv${f} address, listening without it`)
          continue
        }
        out.push({ address, family: f })
      }
      return out
    }
    default:
      return resolveHost(rt, ep, text, forced)
  }
}

/** Addresses to try for a remote endpoint, in resolver order. */
export async function resolveConnect(rt: Runtime, ep: Endpoint, text: string, family?: Family): Promise<ResolvedAddress[]> {
  if (ep.hostKind === 'wildcard') throw new RelayError('E_INVALID_REMOTE', `${text}: '*' means every local address and cannot be a remote`)
  return resolveHost(rt, ep, text, effectiveFamily(ep, family, text))
}

/** A literal as itself (its family checked against a forced one), a name through the resolver. */
function resolveHost(rt: Runtime, ep: Endpoint, text: string, forced: Family | undefined): Promise<ResolvedAddress[]> | ResolvedAddress[] {
  if (ep.hostKind === 'ipv4' || ep.hostKind === 'ipv6') {
    checkLiteralFamily(ep, forced, text)
    return [{ address: literalOf(ep), family: ep.hostKind === 'ipv6' ? 6 : 4 }]
  }
  return resolveName(rt, ep.host, forced, text)
}

async function resolveName(rt: Runtime, name: string, forced: Family | undefined, text: string): Promise<ResolvedAddress[]> {
  let found: ResolvedAddress[]
  try {
    found = await rt.lookup(name, forced)
  } catch (cause) {
    throw new RelayError('E_RESOLVE', `${text}: cannot resolve '${name}' (${(cause as Error).message})`, { cause })
  }
  const seen = new Set<string>()
  const unique = found.filter((a) => allowed(a.family, forced) && !seen.has(a.address) && seen.add(a.address))
  if (unique.length === 0) {
    throw new RelayError(forced ? 'E_NO_SUITABLE_ADDRESS' : 'E_RESOLVE', `${text}: '${name}' has no ${forced ? `IPv${forced} ` : ''}address`)
  }
  return unique
}
