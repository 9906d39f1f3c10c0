/**
 * A half's global limits (issue 13): how many connections its listeners keep (in total, per source
 * address, and not yet authenticated), flows and UDP sockets across all connections, gRPC calls,
 * HTTP requests in progress, and bytes buffered for slow peers. Every limit is per half, shared
 * by all its listeners and connections; past one, the newest is refused with a reason (never an
 * older one evicted, except flows, whose documented policy is least-recently-used eviction).
 * Defaults come from the process's descriptor limit (`ulimit -n`), so that together they stay
 * below it: see `defaultLimits`.
 */
import type { SocketAddress } from './address.ts'

export interface LimitSettings {
  /** Connections accepted by the half's listeners at once (tunnels, WebSocket, HTTP, HTTP/2). */
  maxConnections: number
  /** Of those, from one source address (an IPv6 /64 counts as one address). */
  maxConnectionsPerPeer: number
  /** Of those, not authenticated yet (hello, TLS handshake, upgrade, first request pending; uhppoted-tunnel peers, which cannot authenticate). */
  maxPending: number
  /** Flows across every table of the half (on a far half, each holds a UDP socket). */
  maxFlows: number
  /** UDP sockets udp/broadcast holds open at once. */
  maxUdpSockets: number
  /** gRPC calls (HTTP/2 streams) open at once. */
  maxGrpcCalls: number
  /** TCP streams the peers opened through the half's tunnels, at once (each dials a connection here). */
  maxTcpStreams: number
  /** HTTP API requests in progress at once. */
  maxHttpRequests: number
  /** Bytes held in send buffers across all tunnel connections. */
  maxBufferedBytes: number
}

/** Option names as the CLI spells them (`--max-connections`), for messages. */
export const LIMIT_OPTIONS: Record<keyof LimitSettings, string> = {
  maxConnections: 'max-connections',
  maxConnectionsPerPeer: 'max-connections-per-peer',
  maxPending: 'max-pending',
  maxFlows: 'max-flows',
  maxUdpSockets: 'max-udp-sockets',
  maxGrpcCalls: 'max-grpc-calls',
  maxTcpStreams: 'max-tcp-streams',
  maxHttpRequests: 'max-http-requests',
  maxBufferedBytes: 'max-buffered',
}

/** Descriptors kept aside for listeners, the resolver, log files and the runtime itself. */
const RESERVED_DESCRIPTORS = 64
/** Descriptor limit assumed where the runtime cannot tell (the usual soft default). */
export const DEFAULT_DESCRIPTOR_LIMIT = 1024

/**
 * Defaults from the descriptor limit: of what is left after a reserve of 64, 3/8 for flows (a UDP
 * socket each on a far half), a quarter for connections, a quarter for TCP streams (each dials a
 * connection on the far half), 1/16 for HTTP requests (each may hold a UDP socket while it waits):
 * 15/16 of the usable descriptors at most, however they are used.
 */
export function defaultLimits(descriptorLimit: number | undefined): LimitSettings {
  const fds = descriptorLimit !== undefined && descriptorLimit > 0 ? Math.min(descriptorLimit, 1 << 20) : DEFAULT_DESCRIPTOR_LIMIT
  const usable = Math.max(64, fds - RESERVED_DESCRIPTORS)
  const maxConnections = Math.max(8, Math.floor(usable / 4))
  const maxFlows = Math.max(16, Math.floor((usable * 3) / 8))
  const maxHttpRequests = Math.max(4, Math.floor(usable / 16))
  return {
    maxConnections,
    maxConnectionsPerPeer: Math.max(8, Math.floor(maxConnections / 8)),
    maxPending: Math.max(8, Math.floor(maxConnections / 2)),
    maxFlows,
    maxUdpSockets: maxFlows + maxHttpRequests,
    maxGrpcCalls: maxConnections,
    maxTcpStreams: Math.max(8, Math.floor(usable / 4)),
    maxHttpRequests,
    maxBufferedBytes: 128 << 20,
  }
}

/** The key of a source address for per-peer counts: the address, or its /64 for IPv6. */
export function peerKey(address: string): string {
  if (!address.includes(':')) return address
  const plain = address.replace(/%.*$/, '')
  const [head, tail] = plain.includes('::') ? plain.split('::') as [string, string] : [plain, undefined]
  const h = head ? head.split(':') : []
  const t = tail ? tail.split(':') : []
  const words = tail !== undefined ? [...h, ...new Array(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t] : h
  return `${words.slice(0, 4).map((w) => (w || '0').replace(/^0+(?=.)/, '')).join(':')}::/64`
}

/** A connection admitted by a ConnectionGate. Both methods are idempotent. */
export interface GateTicket {
  /** The peer authenticated (a hello, an upgrade, a gRPC call or an HTTP request was accepted): it no longer counts as pending. */
  authenticated(): void
  /** The connection is gone. */
  leave(): void
}

/** Admits or refuses the connections a half's listeners accept. */
export interface ConnectionGate {
  /** A connection from `remote` was accepted: its ticket, or the reason it is refused (it is then closed at once). */
  enter(remote: SocketAddress): GateTicket | string
}

/** What a refusal was about: the limit's option name, for counters and messages. */
export type RefusalReport = (remote: SocketAddress, limit: string, reason: string) => void

interface PeerCount {
  open: number
  pending: number
}

/** The ConnectionGate of one half. */
export class ConnectionLimits implements ConnectionGate {
  private readonly s: Pick<LimitSettings, 'maxConnections' | 'maxConnectionsPerPeer' | 'maxPending'>
  private readonly report: RefusalReport
  private readonly peers = new Map<string, PeerCount>()
  open = 0
  pending = 0

  constructor(s: Pick<LimitSettings, 'maxConnections' | 'maxConnectionsPerPeer' | 'maxPending'>, report: RefusalReport) {
    this.s = s
    this.report = report
  }

  enter(remote: SocketAddress): GateTicket | string {
    const key = peerKey(remote.address)
    const peer = this.peers.get(key)
    const s = this.s
    let limit: string | undefined
    let reason = ''
    if (this.open >= s.maxConnections) {
      limit = 'max-connections'
      reason = `too many connections (${this.open}, the limit set by --max-connections)`
    } else if ((peer?.open ?? 0) >= s.maxConnectionsPerPeer) {
      limit = 'max-connections-per-peer'
      reason = `too many connections from ${key} (${peer!.open}, the limit set by --max-connections-per-peer)`
    } else if (this.pending >= s.maxPending) {
      limit = 'max-pending'
      reason = `too many connections not yet authenticated (${this.pending}, the limit set by --max-pending)`
    }
    if (limit) {
      this.report(remote, limit, reason)
      return reason
    }
    this.open++
    this.pending++
    const count = peer ?? { open: 0, pending: 0 }
    count.open++
    count.pending++
    if (!peer) this.peers.set(key, count)
    return new Ticket(this, key, count)
  }

  /** @internal */
  settle(key: string, count: PeerCount, wasPending: boolean, leaving: boolean): void {
    if (wasPending) {
      this.pending--
      count.pending--
    }
    if (leaving) {
      this.open--
      count.open--
      if (count.open === 0) this.peers.delete(key)
    }
  }
}

class Ticket implements GateTicket {
  private readonly gate: ConnectionLimits
  private readonly key: string
  private readonly count: PeerCount
  private state: 'pending' | 'authenticated' | 'gone' = 'pending'

  constructor(gate: ConnectionLimits, key: string, count: PeerCount) {
    this.gate = gate
    this.key = key
    this.count = count
  }

  authenticated(): void {
    if (this.state !== 'pending') return
    this.state = 'authenticated'
    this.gate.settle(this.key, this.count, true, false)
  }

  leave(): void {
    if (this.state === 'gone') return
    const wasPending = this.state === 'pending'
    this.state = 'gone'
    this.gate.settle(this.key, this.count, wasPending, true)
  }
}

/** A count with a ceiling: take() refuses past it. */
export class Budget {
  readonly max: number
  used = 0

  constructor(max: number) {
    this.max = max
  }

  take(): boolean {
    if (this.used >= this.max) return false
    this.used++
    return true
  }

  give(): void {
    if (this.used > 0) this.used--
  }
}
