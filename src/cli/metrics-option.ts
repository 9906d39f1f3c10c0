import type { CliOptions } from './args.ts'
import { runtime as defaultRuntime } from '#runtime'
import type { Logger } from '../base/logger.ts'
import type { Runtime } from '../ports/runtime.ts'
import type { Half } from '../half/start-half.ts'
import { describeMetrics, serveMetrics, type MetricsServer, type MetricsServerOptions } from '../half/metrics-server.ts'
import { runtimeInfo, VERSION } from './help.ts'
import type { UdpDropCounter } from './udp-drops.ts'

/** --metrics host:port: the metrics port for every half of this process (none without the option). */
export async function startMetrics(options: CliOptions, halves: () => readonly Half[], log: Logger, runtime: Runtime = defaultRuntime, routes?: MetricsServerOptions['routes'], udpDrops?: UdpDropCounter): Promise<MetricsServer | undefined> {
  const address = options.metrics
  if (address === undefined || address === false) return undefined
  const { name, version } = runtimeInfo()
  const server = await serveMetrics({
    runtime,
    address: String(address),
    halves,
    info: { version: VERSION, runtime: name, runtime_version: version },
    warn: (m) => log.warn(m),
    routes,
    processMetrics: () => {
      const drops = udpDrops?.sample()
      return drops === undefined ? [] : [{ name: 'edgerelay_udp_receive_buffer_drops_total', type: 'counter', help: 'Datagrams the kernel dropped because a UDP socket of this process had a full receive buffer (Linux /proc/net/udp, sampled).', value: drops }]
    },
  })
  log.info(`metrics on ${describeMetrics(server)}, readiness on /healthz`)
  return server
}
