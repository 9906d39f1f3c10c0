/**
 * @module
 * edgerelay as a library: start a half from connector strings, stop it with an AbortSignal.
 *
 * @example
 * ```ts
 * import { startHalf } from 'edgerelay'
 * const stop = new AbortController()
 * const half = await startHalf({ in: 'udp/listen:127.0.0.1:5300', out: 'tcp/client:127.0.0.1:12345', signal: stop.signal })
 * // ... later
 * stop.abort()
 * await half.done
 * ```
 */
import { runtime as defaultRuntime } from '#runtime'
import { startHalf as startHalfWith, type Half, type HalfSettings } from './src/half/start-half.ts'
import type { Runtime } from './src/ports/runtime.ts'

export type { Half }

/** startHalf's options; `runtime` defaults to the adapter this package's import conditions picked (node, bun or deno). */
export type HalfOptions = HalfSettings & { runtime?: Runtime }

/**
 * Creates and starts one half: the out connector, then the in connector. Resolves once both are
 * listening or dialling; stop it with `close()`, `await using`, or `signal`.
 */
export function startHalf(options: HalfOptions): Promise<Half> {
  return startHalfWith({ ...options, runtime: options.runtime ?? defaultRuntime })
}

/** The runtime adapter chosen for this runtime by the package's import conditions. */
export { defaultRuntime }
export { parseConnector, formatConnector, type ConnectorSpec } from './src/net/connector-string.ts'
export { RelayError, ParseError, isRelayError } from './src/base/errors.ts'
export { codecByName, CODEC_NAMES } from './src/protocol/codecs/index.ts'
export type { Codec } from './src/protocol/codecs/types.ts'
export { Kind, type Frame } from './src/protocol/frame.ts'
export { registerConnector, type ConnectorFactory } from './src/connectors/registry.ts'
export type { Runtime } from './src/ports/runtime.ts'
export { hostsResolver, dnsResolver, parseDnsServer, type Resolver } from './src/net/resolver.ts'
export type { Logger, LogLevel, LogSink, LogFormat, LogRecord } from './src/base/logger.ts'
export { renderMetrics, METRICS_CONTENT_TYPE } from './src/half/metrics.ts'
export { serveMetrics, type MetricsServer, type MetricsServerOptions } from './src/half/metrics-server.ts'
