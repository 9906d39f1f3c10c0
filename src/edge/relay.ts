/**
 * An edge half as a fetch handler: WebSocket tunnels in (the platform hands us the requests) and a
 * tunnel out, normally `tcp/client:<far half>` (edge platforms have no UDP, so this is a hop to a
 * far half's tcp/server). It runs the same ws/server handler, sessions and codecs as the CLI.
 *
 * Every upgrade is negotiated and authenticated before anything is created for it; then it gets
 * its own half, whose in connector is that one accepted WebSocket. One half per WebSocket because
 * workerd ties every socket and timer to the request that created it (a TCP connection opened
 * while serving one request cannot be used by another), so each tunnel connection has its own TCP
 * connection to the far half, and both end together.
 */
import { createLogger, type LogLevel, type LogSink } from '../base/logger.ts'
import { WarningLimiter } from '../base/warning-limiter.ts'
import { formatAddress, type SocketAddress } from '../base/address.ts'
import { acceptedTunnelIn } from '../connectors/stream-tunnel.ts'
import { webSocketTunnelHandler } from '../connectors/ws.ts'
import { negotiatedWire } from '../protocol/wire.ts'
import { wireFor } from '../protocol/wire-for.ts'
import type { StreamConn } from '../ports/runtime.ts'
import { startHalf, type HalfSettings } from '../half/start-half.ts'
import { edgeRuntime, type EdgeHost } from '../adapter/edge/runtime.ts'
import { webSocketConn } from '../adapter/web/websocket-conn.ts'

export interface EdgeRelayOptions {
  /** Where tunnel traffic goes: `tcp/client:far.example.com:12345`. */
  out: string
  /** URL path of the tunnel (default `/tunnel`). */
  path?: string
  codec?: string
  token?: string
  udpTimeout?: string | number
  heartbeat?: string | number
  logLevel?: LogLevel
  logger?: LogSink
  /** Further startHalf options (timeouts, queue limits). */
  half?: Partial<HalfSettings>
}

export interface EdgeRelay {
  fetch(request: Request, env?: unknown): Promise<Response>
}

const unknownPeer: SocketAddress = { address: '', port: 0, family: 4 }

/** Lines at their level's console method (console.debug, .info, .warn, .error). */
export const consoleLevelSink: LogSink = (level, line) => console[level](line)
const served: SocketAddress = { address: '0.0.0.0', port: 0, family: 4 }

export function edgeRelay(host: EdgeHost, opts: EdgeRelayOptions): EdgeRelay {
  const path = opts.path ?? '/tunnel'
  if (!path.startsWith('/')) throw new Error(`edge relay path must start with '/', not ${path}`)
  const codec = opts.codec ?? 'protobuf'
  const logLevel = opts.logLevel ?? 'info'
  // Each level through its own console method: workerd shows console.error as [ERROR], so a
  // single method made every line look like an error.
  const sink: LogSink = opts.logger ?? consoleLevelSink
  const log = createLogger(logLevel, sink).child('ws/server')
  // Refusals are what a storm of bad requests causes: a few lines per interval, then a count.
  const warnings = new WarningLimiter((m, f, level) => log[level](m, f))
  const wire = negotiatedWire(wireFor(codec), { messageFramed: true })
  const runtime = edgeRuntime(host)
  const name = 'ws/server'

  return {
    async fetch(request, env) {
      const remote = host.remoteOf?.(request, env) ?? unknownPeer
      let opened: Promise<StreamConn> | undefined
      let ended: Promise<void> | undefined
      const handler = webSocketTunnelHandler({
        name,
        path,
        codec,
        token: opts.token,
        onRefused: (refusal) => warnings.warn(`refused upgrade: ${refusal.code}`, remote.address || 'unknown', `refused WebSocket upgrade from ${formatAddress(remote)}: ${refusal.reason}`, { peer: formatAddress(remote), code: refusal.code }),
        secure: new URL(request.url).protocol === 'https:',
        onOpen: () => {},
      })
      const response = await handler(request, {
        remote,
        local: served,
        ...(request.headers.get('upgrade')?.toLowerCase() === 'websocket'
          ? {
              upgrade: (accept) => {
                const up = host.upgrade(request, accept.protocol)
                const ws = up.opened.then(() => webSocketConn(up.socket, remote, served))
                opened = ws.then((w) => w.conn)
                ended = ws.then((w) => w.closed)
                return up.response
              },
            }
          : {}),
      })
      if (!opened || !ended) return response
      // Accepted: the half starts (and dials the far half) inside this request, as workerd needs.
      const half = await startHalf({
        ...opts.half,
        in: { text: `${name} (edge)`, create: (ctx) => acceptedTunnelIn(ctx, name, wire, opened!, false, opts.out) },
        out: opts.out,
        codec,
        token: opts.token,
        udpTimeout: opts.udpTimeout,
        heartbeat: opts.heartbeat,
        logLevel,
        logger: sink,
        runtime,
        // The edge cannot retry forever on behalf of one WebSocket: a dead far half ends it.
        maxRetries: opts.half?.maxRetries ?? 3,
      })
      void ended.then(() => half.close())
      return response
    },
  }
}
