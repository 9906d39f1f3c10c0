/**
 * udp/client:<host>:<port> as --out: each flow gets a UDP socket connected to one server address,
 * so the kernel accepts replies from that address only. A name's addresses are tried in turn
 * (RFC 8305 order) while no reply comes: the flow's datagrams go to the first, and after
 * `attempt-delay` (250 ms) without a reply, or at once on an ICMP error, also to the next, each
 * from its own connected socket. The first address that answers wins the flow; the others are
 * closed and logged, and later flows start with the winner.
 */
import type { ConnectedUdpSocket, ResolvedAddress } from '../ports/runtime.ts'
import type { ConnectorFactory, HalfContext, OutConnector, PacketKind } from '../core/connector.ts'
import { endpointOf } from '../core/connector.ts'
import type { Flow } from '../core/flow.ts'
import { RelayError } from '../base/errors.ts'
import type { Budget } from '../base/limits.ts'
import { hostPort } from '../base/address.ts'
import type { Endpoint } from '../net/endpoint.ts'
import { raceOptionsOf } from '../net/dial.ts'
import { interleave } from '../net/happy-eyeballs.ts'
import { resolveConnect } from '../net/resolve.ts'
import { forwardReply, noteSent, UdpFlowState } from './udp-reply-window.ts'

/** Datagrams a flow keeps to send to addresses it has not tried yet. */
const MAX_PENDING = 16

interface Attempt {
  target: ResolvedAddress
  socket: ConnectedUdpSocket | undefined
  failed: boolean
}

/** One flow's attempts and winner: the flow's out state, released (sockets closed) when the flow ends. */
class ClientFlow extends UdpFlowState {
  attempts: Attempt[] = []
  winner: Attempt | undefined = undefined
  /** Sent before any reply: replayed to each new address (copies). */
  pending: Uint8Array[] = []
  timer: ReturnType<typeof setTimeout> | undefined = undefined
  /** The half's --max-udp-sockets: one place per flow (its attempts are few, one per address), given back on release. */
  budget: Budget | undefined = undefined

  protected closeSockets(): void {
    this.budget?.give()
    this.budget = undefined
    if (this.timer) clearTimeout(this.timer)
    for (const a of this.attempts) a.socket?.close()
    this.attempts = []
    this.pending = []
  }
}

/** `resolved`: addresses already resolved (and checked against --allow) by the caller, tcp/dial's datagrams; logged at debug level then. */
export function udpClientOut(ctx: HalfContext, endpoint: Endpoint, text: string, resolved?: ResolvedAddress[]): OutConnector {
  const rt = ctx.runtime
  const log = ctx.logger.child('udp/client')
  for (const key of Object.keys(endpoint.options)) {
    if (key !== 'attempt-delay') throw new RelayError('E_CONFIG', `${text}: unknown option '${key}' for udp/client (options: attempt-delay=)`)
  }
  if (!rt.connectUdp) throw new RelayError('E_UNSUPPORTED_ON_RUNTIME', `${text}: the ${rt.name} runtime has no connected UDP sockets`)
  const connectUdp = rt.connectUdp.bind(rt)
  const delayMs = raceOptionsOf(endpoint.options, text, (m) => log.warn(m)).attemptDelayMs ?? 250
  const port = endpoint.port
  /** Every open flow, for close(). */
  const flows = new Set<ClientFlow>()
  let targets: ResolvedAddress[] = []
  const where = (a: ResolvedAddress) => hostPort(a.address, port)

  const reply = (flow: Flow, state: ClientFlow, attempt: Attempt, data: Uint8Array) => {
    if (data.length === 0) return ctx.drops.drop('empty_datagram', `zero-length reply from ${where(attempt.target)}`)
    if (!state.winner) win(flow, state, attempt)
    forwardReply(ctx, flow, state, data)
  }

  const win = (flow: Flow, state: ClientFlow, attempt: Attempt) => {
    state.winner = attempt
    state.pending = []
    if (state.timer) clearTimeout(state.timer)
    const losers = state.attempts.filter((a) => a !== attempt)
    for (const a of losers) a.socket?.close()
    state.attempts = [attempt]
    if (losers.length) log.info(`${flow.label}: ${where(attempt.target)} answered; abandoned ${losers.map((a) => where(a.target)).join(', ')}`)
    // Later flows start with the address that answered.
    targets = [attempt.target, ...targets.filter((t) => t !== attempt.target)]
  }

  /** Tries the next untried address of the flow, if any. */
  const next = (flow: Flow, state: ClientFlow) => {
    if (state.winner || state.released) return
    if (state.timer) clearTimeout(state.timer)
    state.timer = undefined
    const target = targets[state.attempts.length]
    if (!target) return
    const attempt: Attempt = { target, socket: undefined, failed: false }
    state.attempts.push(attempt)
    if (state.attempts.length > 1) log.debug(`${flow.label}: no reply yet, trying ${where(target)} too`)
    connectUdp({
      address: target.address,
      port,
      family: target.family,
      onMessage: (data) => reply(flow, state, attempt, data),
      onStray: (address, from) => ctx.drops.drop('udp_stray', `${flow.label}: a datagram from ${hostPort(address, from)}, not ${where(target)}`),
      onError: (err) => {
        log.debug(`${flow.label}: ${where(target)}: ${err.message}`)
        if (!state.winner && !attempt.failed) {
          attempt.failed = true
          next(flow, state)
        }
      },
    }).then((socket) => {
      if (state.released || (state.winner && state.winner !== attempt)) return socket.close()
      attempt.socket = socket
      for (const p of state.pending) socket.send(p)
    }, (err: Error) => {
      log.warn(`${flow.label}: cannot open a UDP socket to ${where(target)}: ${err.message}`)
      attempt.failed = true
      next(flow, state)
    })
    state.timer = setTimeout(() => next(flow, state), delayMs)
  }

  const open = (flow: Flow): ClientFlow | undefined => {
    // The newest flow is refused past the half's limit; flow tables evict before it comes to that.
    if (!ctx.limits.udpSockets.take()) {
      ctx.drops.drop('udp_socket_limit', `${flow.label}: ${ctx.limits.udpSockets.used} UDP sockets open, the limit set by --max-udp-sockets: packet not sent`)
      return undefined
    }
    const state = new ClientFlow(flows)
    state.budget = ctx.limits.udpSockets
    flow.out = state
    return state
  }

  return {
    async start() {
      targets = interleave(resolved ?? await resolveConnect(rt, endpoint, text, ctx.options.family))
      const line = `sending to ${hostPort(endpoint.host, port)}: ${targets.map(where).join(', ')}`
      if (resolved) log.debug(line)
      else log.info(line)
    },
    send(flow: Flow, kind: PacketKind, id: number, payload: Uint8Array) {
      if (flow.closed) return
      const state = (flow.out as ClientFlow | undefined) ?? open(flow)
      if (!state) return
      noteSent(ctx, state, kind, id)
      if (state.winner) return state.winner.socket!.send(payload)
      if (state.pending.length >= MAX_PENDING) return ctx.drops.drop('udp_unanswered', `${flow.label}: no address answered yet and ${MAX_PENDING} datagrams wait`)
      state.pending.push(payload.slice())
      for (const a of state.attempts) a.socket?.send(payload)
      if (state.attempts.length === 0) next(flow, state)
    },
    async close() {
      for (const state of [...flows]) state.release()
    },
  }
}

export const udpClientConnector: ConnectorFactory = { out: (s, ctx) => udpClientOut(ctx, endpointOf(s), s.text) }
