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
export { startHalf, type Half, type HalfOptions } from './src/core/half.ts'
export { parseConnector, formatConnector, type ConnectorSpec } from './src/net/connector-string.ts'
export { RelayError, ParseError, isRelayError } from './src/core/errors.ts'
export { codecByName, CODEC_NAMES } from './codecs/index.ts'
export type { Codec } from './codecs/types.ts'
export { Kind, type Frame } from './src/core/frame.ts'
export { registerConnector, type ConnectorFactory } from './src/connectors/registry.ts'
export type { Runtime } from './src/adapter/types.ts'
export type { Logger, LogLevel, LogSink } from './src/core/logger.ts'
