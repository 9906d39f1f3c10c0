/**
 * Socket addresses as plain data and as text: one place for the small helpers every layer needs
 * (IPv6 in brackets, IPv4-mapped peers shown as IPv4, link-local tests). Parsing and validation of
 * what users write live in src/net/.
 */
export type Family = 4 | 6

export interface SocketAddress {
  address: string
  port: number
  family: Family
}

/** The family of an address literal; `::ffff:a.b.c.d` counts as IPv4 (docs/addresses.md S7). */
export function familyOf(address: string | undefined): Family {
  return address !== undefined && address.includes(':') && !isV4Mapped(address) ? 6 : 4
}

function isV4Mapped(address: string): boolean {
  return address.startsWith('::ffff:') && address.includes('.')
}

/**
 * A socket address from what a runtime reports: dual-stack sockets give IPv4 peers as
 * `::ffff:a.b.c.d`, shown (and keyed, and logged) as plain IPv4.
 */
export function socketAddress(address: string | undefined, port: number | undefined): SocketAddress {
  const a = address === undefined ? '' : isV4Mapped(address) ? address.slice(7) : address
  return { address: a, port: port ?? 0, family: familyOf(a) }
}

/** `127.0.0.1`, `[::1]`: an address as it stands before `:port`. */
export function bracketed(address: string): string {
  return address.includes(':') ? `[${address}]` : address
}

/** `127.0.0.1:53`, `[::1]:53`. */
export function hostPort(address: string, port: number): string {
  return `${bracketed(address)}:${port}`
}

/** A socket address for logs; an unknown one (some TLS errors carry none) says so. */
export function formatAddress(a: SocketAddress): string {
  return a.address ? hostPort(a.address, a.port) : '(address unknown)'
}

/** fe80::/10 (fe80 … febf). */
export function isLinkLocal(address: string): boolean {
  return /^fe[89ab][0-9a-f]:/i.test(address)
}
