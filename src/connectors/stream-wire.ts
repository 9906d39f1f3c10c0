/**
 * Which wire a tcp or tls tunnel speaks: the codec given, or `auto` on a server, and how that
 * choice is described in the logs.
 */
import type { HalfContext } from '../core/connector.ts'
import { RelayError } from '../base/errors.ts'
import { isAuto, type AutoWire } from '../core/tunnel/session.ts'
import type { Wire } from '../protocol/wire.ts'
import { wireFor } from '../protocol/wire-for.ts'
import { uhppotedWire } from '../protocol/wire.ts'
import { CODEC_NAMES } from '../protocol/codecs/index.ts'

/** How long a tcp/tls server with codec auto waits for a first byte before taking a silent peer for uhppoted-tunnel. */
export const AUTO_SILENCE_MS = 1000

/**
 * The wire of a tcp or tls tunnel: the codec given, else `auto` for a server (an edgerelay hello
 * of any codec, or uhppoted-tunnel framing when no token is required) and protobuf for a client.
 */
export function streamWire(ctx: HalfContext, role: 'server' | 'client', text: string): Wire | AutoWire {
  const codec = ctx.options.codec ?? (role === 'server' ? 'auto' : 'protobuf')
  if (codec === 'uhppoted' && ctx.options.token !== undefined) {
    throw new RelayError('E_CONFIG', `${text}: --token cannot be used with --codec uhppoted on tcp or tls: uhppoted-tunnel framing has no hello to carry it, so it would check nothing; authenticate uhppoted-tunnel peers with tls/ and --client-auth, or use an edgerelay codec (ws and grpc carry the token in their headers)`)
  }
  if (codec !== 'auto') return wireFor(codec)
  if (role === 'client') throw new RelayError('E_CONFIG', `${text}: --codec auto is for listening tunnels; a dialling half must name its codec (protobuf, avro, msgpack or uhppoted)`)
  return {
    wireFor: (name) => (name !== 'uhppoted' && (CODEC_NAMES as readonly string[]).includes(name) ? wireFor(name) : undefined),
    uhppoted: ctx.options.token === undefined ? uhppotedWire : undefined,
    silenceMs: AUTO_SILENCE_MS,
  }
}

/** What an open tcp/tls server with codec auto also accepts (for W_OPEN_SERVER). */
export function openServerNote(wire: Wire | AutoWire): string {
  return isAuto(wire) && wire.uhppoted ? '; it also takes uhppoted-tunnel framing, which cannot carry a token' : ''
}

export function describeWire(wire: Wire | AutoWire): string {
  if (!isAuto(wire)) return `codec ${wire.name}`
  return wire.uhppoted ? 'codec auto: an edgerelay hello of any codec, or uhppoted-tunnel framing' : 'codec auto: an edgerelay hello of any codec (no uhppoted-tunnel framing)'
}
