/**
 * A half's global limits at run time (the settings are src/base/limits.ts): the connection gate
 * every listener admits through, the flow budget every flow table shares, and the counts of UDP
 * sockets, gRPC calls, HTTP requests and buffered bytes. Every refusal is counted as
 * `refused.<limit>` and logged through the half's WarningLimiter, naming the peer and the reason.
 */
import { formatAddress, type SocketAddress } from '../base/address.ts'
import { Budget, ConnectionLimits, peerKey, type LimitSettings } from '../base/limits.ts'
import type { Stats } from '../base/stats.ts'
import type { WarningLimiter } from '../base/warning-limiter.ts'
import { FlowBudget } from './flow-budget.ts'

/** Bytes held in send buffers across every tunnel connection of the half (core/tunnel/bounded-conn.ts keeps it). */
export class BufferedBytes {
  readonly max: number
  total = 0

  constructor(max: number) {
    this.max = max
  }
}

export class HalfLimits {
  readonly settings: LimitSettings
  readonly gate: ConnectionLimits
  readonly flows: FlowBudget
  readonly udpSockets: Budget
  readonly grpcCalls: Budget
  readonly tcpStreams: Budget
  readonly httpRequests: Budget
  readonly buffered: BufferedBytes
  private readonly stats: Stats
  private readonly warnings: WarningLimiter

  constructor(settings: LimitSettings, stats: Stats, warnings: WarningLimiter) {
    this.settings = settings
    this.stats = stats
    this.warnings = warnings
    this.gate = new ConnectionLimits(settings, (remote, limit, reason) => this.refused(remote, limit, reason, 'connection'))
    this.flows = new FlowBudget(settings.maxFlows)
    this.udpSockets = new Budget(settings.maxUdpSockets)
    this.grpcCalls = new Budget(settings.maxGrpcCalls)
    this.tcpStreams = new Budget(settings.maxTcpStreams)
    this.httpRequests = new Budget(settings.maxHttpRequests)
    this.buffered = new BufferedBytes(settings.maxBufferedBytes)
  }

  /** Counts a refusal past `limit` (`max-connections`) and logs it, at most a few lines per limit and interval. */
  refused(remote: SocketAddress, limit: string, reason: string, what: string): void {
    this.stats.add(`refused.${limit.replaceAll('-', '_')}`)
    this.warnings.warn(`refused ${what}: ${limit}`, peerKey(remote.address), `refused ${what} from ${formatAddress(remote)}: ${reason}`, { peer: formatAddress(remote), code: 'E_LIMIT' })
  }
}
