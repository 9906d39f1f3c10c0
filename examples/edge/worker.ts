/**
 * edgerelay as a Cloudflare Worker: a hop with ws/server in and tcp/client out. workerd has no
 * UDP, so the worker forwards the tunnel to a far half's tcp/server with `cloudflare:sockets`
 * connect(); the far half does the UDP. Same startHalf, connectors and codecs as the CLI,
 * through src/adapter/edge (WebSocketPair in, connect() out).
 *
 * It can also be the far half for TCP streams: EDGERELAY_OUT=tcp/connect:host:port, or tcp/dial
 * with EDGERELAY_ALLOW (the --allow list: the destinations a near half may name), each stream
 * dialled with connect().
 *
 * Settings are Worker variables (wrangler.toml [vars] or `--var NAME:value`): EDGERELAY_OUT
 * (required, `tcp/client:far.example.com:12345`), EDGERELAY_PATH (/tunnel), EDGERELAY_CODEC
 * (protobuf), EDGERELAY_TOKEN (a secret: `wrangler secret put EDGERELAY_TOKEN`), EDGERELAY_ALLOW,
 * EDGERELAY_LOG_LEVEL.
 */
import { edgeRelay, type EdgeRelay } from '../../src/edge/relay.ts'
import { workerdHost } from '../../src/adapter/edge/workerd.ts'
import type { LogLevel } from '../../src/base/logger.ts'

interface Env {
  EDGERELAY_OUT?: string
  EDGERELAY_PATH?: string
  EDGERELAY_CODEC?: string
  EDGERELAY_TOKEN?: string
  EDGERELAY_ALLOW?: string
  EDGERELAY_LOG_LEVEL?: string
}

let relay: EdgeRelay | undefined

export default {
  fetch(request: Request, env: Env): Promise<Response> | Response {
    if (!env.EDGERELAY_OUT) return new Response('edgerelay: set the EDGERELAY_OUT variable (tcp/client:host:port, tcp/connect:host:port, or tcp/dial with EDGERELAY_ALLOW)\n', { status: 500 })
    relay ??= edgeRelay(workerdHost, {
      out: env.EDGERELAY_OUT,
      path: env.EDGERELAY_PATH || undefined,
      codec: env.EDGERELAY_CODEC || undefined,
      token: env.EDGERELAY_TOKEN || undefined,
      logLevel: (env.EDGERELAY_LOG_LEVEL || undefined) as LogLevel | undefined,
      ...(env.EDGERELAY_ALLOW ? { half: { allow: env.EDGERELAY_ALLOW } } : {}),
    })
    return relay.fetch(request, env)
  },
}
