/**
 * Listening sockets a service manager opened for us (systemd socket activation: LISTEN_FDS). A
 * connector asks to listen on an address and port as usual; if an inherited socket of that
 * transport is bound there, the runtime serves on that descriptor instead of binding. So a
 * `.socket` unit and the connector string name the same address, and nothing else changes.
 */
import type { Runtime } from '../ports/runtime.ts'
import { formatIPv6, parseIPv6 } from '../base/ip.ts'

export interface InheritedSocket {
  fd: number
  transport: 'tcp' | 'udp'
  /** The bound address as text (`127.0.0.1`, `::`). */
  address: string
  port: number
  /** systemd's FileDescriptorName=, for messages. */
  name?: string
}

/** The same address whatever its spelling (`::0001` = `::1`); the zone does not take part. */
export function canonicalAddress(address: string): string {
  if (!address.includes(':')) return address
  const parsed = parseIPv6(address.split('%')[0]!)
  return parsed.ok ? formatIPv6(parsed.value) : address
}

export const describeInherited = (s: InheritedSocket): string => `fd ${s.fd}${s.name ? ` (${s.name})` : ''}: ${s.transport} ${s.address.includes(':') ? `[${s.address}]` : s.address}:${s.port}`

/** Inherited sockets, each given out once. */
export class InheritedSockets {
  private readonly free: InheritedSocket[]

  constructor(sockets: readonly InheritedSocket[]) {
    this.free = [...sockets]
  }

  /** The inherited socket bound to `address`:`port` for `transport`, taken out of the pool. */
  claim(transport: 'tcp' | 'udp', address: string, port: number): InheritedSocket | undefined {
    const want = canonicalAddress(address)
    const i = this.free.findIndex((s) => s.transport === transport && s.port === port && canonicalAddress(s.address) === want)
    return i < 0 ? undefined : this.free.splice(i, 1)[0]
  }

  /** What no connector asked for. */
  unclaimed(): readonly InheritedSocket[] {
    return this.free
  }
}

/** `rt` with every listen and UDP bind served from `pool` where the address matches (`onClaim` is told which). */
export function withInheritedSockets(rt: Runtime, pool: InheritedSockets, onClaim?: (s: InheritedSocket) => void): Runtime {
  const fdFor = <T extends { address: string; port: number; fd?: number }>(transport: 'tcp' | 'udp', opts: T): T => {
    const s = pool.claim(transport, opts.address, opts.port)
    if (!s) return opts
    onClaim?.(s)
    return { ...opts, fd: s.fd }
  }
  return {
    ...rt,
    listenTcp: (opts) => rt.listenTcp(fdFor('tcp', opts)),
    bindUdp: (opts) => rt.bindUdp(fdFor('udp', opts)),
    listenTls: rt.listenTls && ((opts) => rt.listenTls!(fdFor('tcp', opts))),
    serveHttp: rt.serveHttp && ((opts) => rt.serveHttp!(fdFor('tcp', opts))),
    serveHttp2: rt.serveHttp2 && ((opts) => rt.serveHttp2!(fdFor('tcp', opts))),
  }
}
