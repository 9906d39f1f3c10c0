/**
 * edgerelay as a Deno Deploy app (`export default { fetch }`): a hop with ws/server in and
 * tcp/client out to a far half's tcp/server. Run it locally exactly as the test does:
 *
 *   EDGERELAY_OUT=tcp/client:127.0.0.1:12345 deno serve -A --host 127.0.0.1 --port 8000 examples/deno-deploy/main.ts
 *
 * and point a near half at it: `edgerelay --in udp/listen:127.0.0.1:5300 --out ws/client:ws://127.0.0.1:8000/tunnel`.
 * Settings come from the environment: EDGERELAY_OUT, EDGERELAY_PATH (/tunnel), EDGERELAY_CODEC
 * (protobuf), EDGERELAY_TOKEN, EDGERELAY_ALLOW, EDGERELAY_LOG_LEVEL (info). As the far half for TCP
 * streams: EDGERELAY_OUT=tcp/connect:host:port, or tcp/dial with EDGERELAY_ALLOW (the --allow list).
 */
import { edgeRelay } from '../../src/edge/relay.ts'
import { denoDeployHost } from '../../src/adapter/edge/deno-deploy.ts'
import type { LogLevel } from '../../src/base/logger.ts'

declare const Deno: { env: { get(name: string): string | undefined } }

const env = (name: string) => Deno.env.get(name) || undefined
const out = env('EDGERELAY_OUT')
if (!out) throw new Error('set EDGERELAY_OUT to the far half, e.g. tcp/client:far.example.com:12345')

const relay = edgeRelay(denoDeployHost, {
  out,
  path: env('EDGERELAY_PATH'),
  codec: env('EDGERELAY_CODEC'),
  token: env('EDGERELAY_TOKEN'),
  logLevel: env('EDGERELAY_LOG_LEVEL') as LogLevel | undefined,
  ...(env('EDGERELAY_ALLOW') ? { half: { allow: env('EDGERELAY_ALLOW') } } : {}),
})

export default {
  fetch: (request: Request, info: unknown) => relay.fetch(request, info),
}
