/**
 * The metrics port (`--metrics 127.0.0.1:9464`): GET /metrics answers the Prometheus text of the
 * halves, GET /healthz `ready` (200) or what is not ready (503), through the runtime's own HTTP
 * server, so it works wherever halves do. It binds like a connector (names, `*`, `[::1]`).
 */
import { formatAddress } from '../base/address.ts'
import { RelayError } from '../base/errors.ts'
import { ConnectionLimits, peerKey } from '../base/limits.ts'
import { WarningLimiter } from '../base/warning-limiter.ts'
import type { Runtime, SocketAddress, StreamListener } from '../ports/runtime.ts'
import { bindAll, listenAt } from '../net/bind-all.ts'
import { parseHostPort } from '../net/endpoint.ts'
import { resolveListen } from '../net/resolve.ts'
import { METRICS_CONTENT_TYPE, renderMetrics, type ProcessMetric } from './metrics.ts'
import type { Half } from './start-half.ts'

export interface MetricsServerOptions {
  runtime: Runtime
  /** `host:port` as for a listening connector. */
  address: string
  /** The halves to report, asked at every request (they may change on reload). */
  halves: () => readonly Half[]
  /** Instead of rendering `halves`: the text and what is not ready, from elsewhere (--workers' primary). */
  collect?: () => Promise<{ text: string; notReady: string[] }>
  /** Labels of edgerelay_build_info (version, runtime). */
  info?: Record<string, string>
  /** Series of the whole process, read at every request. */
  processMetrics?: () => ProcessMetric[]
  /** Labels on every series (a worker's number). */
  labels?: Record<string, string>
  /** Extra routes (POST /reload), answered before the 404. */
  routes?: Record<string, (request: Request) => Response | Promise<Response>>
  warn?: (msg: string) => void
}

export interface MetricsServer {
  addresses(): SocketAddress[]
  close(): Promise<void>
}

const text = (body: string, status = 200, type = 'text/plain; charset=utf-8') => new Response(body, { status, headers: { 'content-type': type } })

/** Why the halves are not ready, one line each; empty when they all are. */
function notReady(halves: readonly Half[]): string[] {
  return halves.filter((h) => !h.ready()).map((h) => `${h.name}: not ready (its tunnel has no connection)`)
}

export async function serveMetrics(o: MetricsServerOptions): Promise<MetricsServer> {
  const rt = o.runtime
  if (!rt.serveHttp) throw new RelayError('E_CONFIG', `--metrics: HTTP is not available on the ${rt.name} runtime`)
  const what = `--metrics ${o.address}`
  const endpoint = parseHostPort(o.address, { role: 'listen' })
  const handler = async (request: Request): Promise<Response> => {
    const path = new URL(request.url).pathname
    const route = o.routes?.[`${request.method} ${path}`]
    if (route) return route(request)
    if (request.method !== 'GET' && request.method !== 'HEAD') return text('only GET /metrics and GET /healthz here\n', 405)
    if (path === '/metrics') return text(o.collect ? (await o.collect()).text : renderMetrics(o.halves(), o.info, o.labels, o.processMetrics?.()), 200, METRICS_CONTENT_TYPE)
    if (path === '/healthz') {
      const halves = o.halves()
      const problems = o.collect ? (await o.collect()).notReady : halves.length === 0 ? ['no half is running'] : notReady(halves)
      return problems.length ? text(`not ready\n${problems.join('\n')}\n`, 503) : text('ready\n')
    }
    return text('not found: try /metrics or /healthz\n', 404)
  }
  const serve = rt.serveHttp.bind(rt)
  // Its own small limits (it belongs to no half): a scraper needs a connection or two.
  const refusals = new WarningLimiter((m) => o.warn?.(m))
  const gate = new ConnectionLimits({ maxConnections: 64, maxConnectionsPerPeer: 16, maxPending: 32 }, (remote, limit, reason) =>
    refusals.warn(limit, peerKey(remote.address), `--metrics refused a connection from ${formatAddress(remote)}: ${reason}`))
  const addrs = await resolveListen(rt, endpoint, what)
  const listeners: StreamListener[] = await bindAll(what, addrs, endpoint.port, endpoint.hostKind === 'wildcard', (addr, port) => serve({ ...listenAt(addr, port), handler, gate, helloTimeoutMs: 10_000 }), o.warn ?? (() => {}))
  return {
    addresses: () => listeners.map((l) => l.local),
    close: async () => void (await Promise.all(listeners.map((l) => l.close()))),
  }
}

/** For logs: where the metrics are. */
export const describeMetrics = (server: MetricsServer): string => server.addresses().map((a) => `http://${formatAddress(a)}/metrics`).join(', ')
