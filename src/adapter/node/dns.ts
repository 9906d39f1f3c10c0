import dns from 'node:dns'
import type { Family, ResolvedAddress } from '../../ports/runtime.ts'

/** getaddrinfo through node:dns, in resolver order (verbatim: Deno's default would be ipv4first). */
export async function lookup(name: string, family?: Family): Promise<ResolvedAddress[]> {
  const results = await dns.promises.lookup(name, { all: true, family: family ?? 0, verbatim: true })
  return results.map((r) => ({ address: r.address, family: r.family === 6 ? 6 : 4 }))
}
