/**
 * systemd socket activation (sd_listen_fds(3)): when LISTEN_PID is this process, descriptors 3 to
 * 3 + LISTEN_FDS - 1 are listening sockets opened by a `.socket` unit. Each is identified from
 * /proc (its inode in /proc/net/tcp, tcp6, udp or udp6 gives the transport, address and port), so
 * connectors claim them by the address they would bind (src/net/inherited-sockets.ts).
 */
import { readFileSync, readlinkSync } from 'node:fs'
import process from 'node:process'
import { RelayError } from '../base/errors.ts'
import type { Runtime } from '../ports/runtime.ts'
import { formatIPv6 } from '../base/ip.ts'
import { describeInherited, InheritedSockets, withInheritedSockets, type InheritedSocket } from '../net/inherited-sockets.ts'
import type { Logger } from '../base/logger.ts'

const FIRST_FD = 3

/** One bound socket of a /proc/net table: inode → where it is bound. */
export interface ProcSocket {
  inode: number
  address: string
  port: number
}

/** `0100007F` → 127.0.0.1; 32 hex digits → IPv6 (four host-order 32-bit words, little-endian here). */
function procAddress(hex: string): string {
  const bytes: number[] = []
  for (let w = 0; w < hex.length; w += 8) {
    const word = hex.slice(w, w + 8)
    for (let b = 6; b >= 0; b -= 2) bytes.push(parseInt(word.slice(b, b + 2), 16))
  }
  if (bytes.length === 4) return bytes.join('.')
  const groups: number[] = []
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!)
  return formatIPv6(groups)
}

/** The sockets of one /proc/net/{tcp,tcp6,udp,udp6} text. */
export function parseProcNet(text: string): ProcSocket[] {
  return text.split('\n').slice(1).flatMap((line) => {
    const cols = line.trim().split(/\s+/)
    const local = cols[1]?.split(':')
    if (!local || local.length !== 2 || cols.length < 10) return []
    return [{ inode: Number(cols[9]), address: procAddress(local[0]!), port: parseInt(local[1]!, 16) }]
  })
}

const readOr = (path: string): string => {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return ''
  }
}

/**
 * The sockets systemd passed, or undefined when it passed none to this process. Throws E_CONFIG
 * when the runtime cannot serve on an inherited descriptor, or a descriptor is not a TCP or UDP
 * socket, rather than binding anything itself.
 */
export function inheritedSockets(runtime: Runtime): InheritedSocket[] | undefined {
  const env = process.env
  if (env.LISTEN_PID === undefined || Number(env.LISTEN_PID) !== process.pid) return undefined
  const count = Number(env.LISTEN_FDS ?? '0')
  if (!Number.isInteger(count) || count <= 0) return undefined
  const names = (env.LISTEN_FDNAMES ?? '').split(':')
  // Passed on to no child (sd_listen_fds with unset_environment).
  for (const k of ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES']) delete env[k]
  if (!runtime.capabilities.inheritsSockets) {
    throw new RelayError('E_CONFIG', `systemd passed ${count} listening socket${count === 1 ? '' : 's'} (LISTEN_FDS), but ${runtime.name} cannot serve on an inherited socket: run this half with Node (npx edgerelay, node .../bin/edgerelay.mjs), or without the .socket unit`)
  }
  const tables: [InheritedSocket['transport'], ProcSocket[]][] = (['tcp', 'tcp6', 'udp', 'udp6'] as const).map((t) => [t.startsWith('tcp') ? 'tcp' : 'udp', parseProcNet(readOr(`/proc/net/${t}`))])
  const sockets: InheritedSocket[] = []
  for (let i = 0; i < count; i++) {
    const fd = FIRST_FD + i
    const name = names[i] || undefined
    let inode: number | undefined
    try {
      inode = Number(/^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1])
    } catch {
      inode = undefined
    }
    const found = inode ? tables.flatMap(([transport, list]) => list.filter((s) => s.inode === inode).map((s) => ({ transport, ...s }))) : []
    if (found.length === 0) throw new RelayError('E_CONFIG', `systemd passed fd ${fd}${name ? ` (${name})` : ''}, which is not a TCP or UDP socket (ListenStream=/ListenDatagram= with an address and port are supported, not unix sockets or FIFOs)`)
    const { transport, address, port } = found[0]!
    sockets.push({ fd, transport, address, port, name })
  }
  return sockets
}

/**
 * The runtime the halves get: serving on systemd's sockets where their addresses match, when it
 * passed some. `reportUnused` (after every half started) warns about sockets nothing claimed.
 */
export function activatedRuntime(runtime: Runtime, log: Logger): { runtime: Runtime; reportUnused(): void } {
  const passed = inheritedSockets(runtime)
  if (!passed) return { runtime, reportUnused: () => {} }
  log.info(`socket activation: systemd passed ${passed.map(describeInherited).join(', ')}`)
  const pool = new InheritedSockets(passed)
  return {
    runtime: withInheritedSockets(runtime, pool, (s) => log.info(`socket activation: serving on ${describeInherited(s)} instead of binding`)),
    reportUnused: () => {
      for (const s of pool.unclaimed()) log.warn(`socket activation: ${describeInherited(s)} matches no listening connector (write the same address and port as in the .socket unit); it stays unused`)
    },
  }
}
