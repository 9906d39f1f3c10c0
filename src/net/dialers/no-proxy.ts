/**
 * NO_PROXY as curl reads it: entries separated by commas (blanks around them ignored); `*` alone
 * means every host. A host given by name matches an entry equal to it or one of its parent
 * domains (`example.com` and `.example.com` both match `example.com` and `a.example.com`, not
 * `notexample.com`), case-insensitively, trailing dots ignored. A host given as an IP address
 * matches an address entry equal to it, or a CIDR block (`10.0.0.0/8`, `fd00::/8`) holding it;
 * names and addresses never match each other (`localhost` does not cover 127.0.0.1), nothing is
 * resolved, and ports in entries are not read (an entry with a port matches nothing).
 */
import { addressBytes, inNet } from '../allowlist.ts'

/** Whether `host` (as written in the connector, IPv6 with or without brackets) is in the NO_PROXY list. */
export function noProxyMatches(list: string | undefined, host: string): boolean {
  if (!list) return false
  if (list.trim() === '*') return true
  const addr = addressBytes(host)
  const name = host.replace(/^\[|\]$/g, '').toLowerCase().replace(/\.$/, '')
  for (const raw of list.split(',')) {
    const entry = raw.trim()
    if (entry === '') continue
    if (addr) {
      const slash = entry.indexOf('/')
      const net = addressBytes(slash < 0 ? entry : entry.slice(0, slash))
      if (!net) continue
      const max = net.family === 4 ? 32 : 128
      const bitsText = slash < 0 ? String(max) : entry.slice(slash + 1)
      const bits = Number(bitsText)
      if (/^[0-9]{1,3}$/.test(bitsText) && bits <= max && inNet(addr, { ...net, bits })) return true
      continue
    }
    const pattern = entry.toLowerCase().replace(/\.$/, '').replace(/^\./, '')
    if (pattern !== '' && (name === pattern || name.endsWith(`.${pattern}`))) return true
  }
  return false
}
