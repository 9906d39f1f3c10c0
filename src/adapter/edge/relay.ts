/**
 * An edge half as a fetch handler: `ws/server` in (the platform hands us the requests) and a
 * tunnel out, normally `tcp/client:<far half>` (edge platforms have no UDP, so this is a hop to a
 * far half's tcp/server). It runs the same startHalf, connectors, sessions and codecs as the CLI.
 *
 * One half per WebSocket: workerd ties every socket and timer to the request that created it
 * (a TCP connection opened while serving one request cannot be used by another), so each tunnel
 * connection gets its own half and its own TCP connection to the far half, and both end together.
 * Requests that are not WebSocket upgrades (GET /healthz, refusals) get a half that is closed as
 * soon as the answer is made.
 */
import { startHalf, type HalfOptions } from '../../core/half.ts'
import type { LogLevel, LogSink } from '../../core/logger.ts'
import { edgeRuntime, type EdgeHost } from './runtime.ts'

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
  half?: Partial<HalfOptions>
}

export interface EdgeRelay {
  fetch(request: Request, env?: unknown): Promise<Response>
}

export function edgeRelay(host: EdgeHost, opts: EdgeRelayOptions): EdgeRelay {
  const path = opts.path ?? '/tunnel'
  if (!path.startsWith('/')) throw new Error(`edge relay path must start with '/', not ${path}`)
  return {
    async fetch(request, env) {
      const rt = edgeRuntime(host)
      const sockets: Promise<void>[] = []
      rt.onSocket = (closed) => sockets.push(closed)
      const half = await startHalf({
        ...opts.half,
        in: `ws/server:127.0.0.1:0${path}`,
        out: opts.out,
        codec: opts.codec,
        token: opts.token,
        udpTimeout: opts.udpTimeout,
        heartbeat: opts.heartbeat,
        logLevel: opts.logLevel ?? 'info',
        ...(opts.logger ? { logger: opts.logger } : {}),
        runtime: rt,
        // The edge cannot retry forever on behalf of one WebSocket: a dead far half ends it.
        maxRetries: opts.half?.maxRetries ?? 3,
      })
      let response: Response
      try {
        response = await rt.dispatch(request, env)
      } catch (err) {
        await half.close()
        throw err
      }
      if (response.status !== 101) {
        await half.close()
        return response
      }
      // The WebSocket opens after this response is sent: wait for it, then for its end.
      void (async () => {
        for (let i = 0; i < 100 && sockets.length === 0; i++) await new Promise((r) => setTimeout(r, 50))
        await Promise.all(sockets)
        await half.close()
      })()
      return response
    },
  }
}
