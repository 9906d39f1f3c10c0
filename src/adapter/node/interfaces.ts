/**
 * Network interfaces through node:os, which behaves the same on Node, Bun and Deno (Deno needs
 * --allow-sys). Read fresh on every call: udp/listen rescans to pick up new addresses.
 */
import os from 'node:os'
import { readFileSync } from 'node:fs'
import type { InterfaceAddress } from '../../ports/runtime.ts'

export function networkInterfaces(): InterfaceAddress[] {
  const out: InterfaceAddress[] = []
  for (const [name, list] of Object.entries(os.networkInterfaces())) {
    for (const a of list ?? []) {
      const family = a.family === 'IPv6' || (a.family as unknown) === 6 ? 6 : 4
      const entry: InterfaceAddress = { name, address: a.address, family, internal: a.internal, prefixLength: Number(a.cidr?.split('/')[1] ?? (family === 6 ? 128 : 32)) }
      if (family === 6 && typeof a.scopeid === 'number') entry.scopeId = a.scopeid
      out.push(entry)
    }
  }
  return out
}

/**
 * The index of an interface (IPv6 multicast joins and zones need it): the scope id of one of its
 * link-local addresses, else /sys/class/net (Linux), else undefined.
 */
export function interfaceIndex(name: string): number | undefined {
  for (const a of os.networkInterfaces()[name] ?? []) {
    if (a.family === 'IPv6' && /^fe[89ab]/i.test(a.address) && a.scopeid) return a.scopeid
  }
  try {
    const n = Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8').trim())
    return Number.isInteger(n) && n > 0 ? n : undefined
  } catch {
    return undefined
  }
}
