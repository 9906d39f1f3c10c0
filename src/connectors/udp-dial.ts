/**
 * tcp/dial's datagrams: the flows of a SOCKS5 UDP association arrive addressed (`flow.dst`, one
 * flow per destination; docs/wire-protocol.md#udp-associate). Each destination is checked against
 * --allow and resolved once (kept for CACHE_MS), then its flows are sent as udp/client sends: a
 * connected socket per flow, so only that destination's replies come back, to that flow.
 * Everything the other side can make this cost is bounded: destinations kept, resolutions at once,
 * datagrams waiting for one.
 */
import { RelayError } from '../base/errors.ts'
import type { OutConnector, PacketKind } from '../core/connector.ts'
import type { Flow } from '../core/flow.ts'
import type { ConnectorSpec } from '../net/connector-string.ts'
import { allowedDestination, type DestinationCheck } from './allowed-destination.ts'
import { udpClientOut } from './udp-client.ts'

/** Destinations kept resolved; past it the oldest is forgotten (its flows go on). */
export const MAX_DESTINATIONS = 1024
/** Destinations being resolved at once; datagrams for another new one are dropped meanwhile. */
export const MAX_RESOLVING = 64
/** Datagrams waiting for their destination to be resolved, per destination. */
const MAX_WAITING = 16
/** How long a resolved (or refused) destination is kept. */
const CACHE_MS = 60_000

interface Waiting {
  flow: Flow
  kind: PacketKind
  id: number
  payload: Uint8Array
}

interface Destination {
  at: number
  /** Set once resolved and allowed. */
  out?: OutConnector
  /** Set when refused: why, for the counted drop. */
  refused?: string
  waiting: Waiting[]
}

export function addressedDatagrams(check: DestinationCheck, spec: ConnectorSpec): { send(flow: Flow, kind: PacketKind, id: number, payload: Uint8Array): void; close(): void } {
  const { ctx } = check
  const destinations = new Map<string, Destination>()
  let resolving = 0
  let closed = false

  const deliver = (d: Destination, w: Waiting) => {
    if (w.flow.closed) return
    if (d.out) d.out.send(w.flow, w.kind, w.id, w.payload)
    else ctx.drops.drop('datagram_not_allowed', `${w.flow.label}: a datagram for ${w.flow.dst}: ${d.refused}`)
  }

  const lookUp = (dst: string, src: string): Destination => {
    const d: Destination = { at: Date.now(), waiting: [] }
    if (destinations.size >= MAX_DESTINATIONS) destinations.delete(destinations.keys().next().value!)
    destinations.set(dst, d)
    resolving++
    allowedDestination(check, dst, src).then(
      async ({ endpoint, text, addresses, checkReached }) => {
        if (closed) return
        // Where the platform resolves as it connects, the address a datagram would reach cannot be checked first.
        if (checkReached) throw new RelayError('E_UNSUPPORTED_ON_RUNTIME', `${text}: the ${ctx.runtime.name} platform resolves names only as it connects, so UDP to a name cannot be checked against --allow`)
        const out = udpClientOut(ctx, { ...endpoint, options: {} }, `${spec.text} → ${text} (udp)`, addresses)
        await out.start()
        d.out = out
      },
      (err: Error) => {
        d.refused = err.message
      },
    ).catch((err: Error) => {
      d.refused = err instanceof RelayError ? err.message : String(err)
    }).finally(() => {
      resolving--
      const waiting = d.waiting
      d.waiting = []
      if (!closed) for (const w of waiting) deliver(d, w)
    })
    return d
  }

  return {
    send(flow, kind, id, payload) {
      if (flow.closed || closed) return
      const dst = flow.dst!
      let d = destinations.get(dst)
      if (d && Date.now() - d.at > CACHE_MS && d.waiting.length === 0 && (d.out || d.refused)) {
        destinations.delete(dst)
        d = undefined
      }
      if (!d) {
        if (resolving >= MAX_RESOLVING) return ctx.drops.drop('datagram_resolving', `${flow.label}: a datagram for ${dst} dropped: ${MAX_RESOLVING} destinations are being resolved already`)
        d = lookUp(dst, flow.label)
      }
      if (d.out || d.refused) return deliver(d, { flow, kind, id, payload })
      if (d.waiting.length >= MAX_WAITING) return ctx.drops.drop('datagram_resolving', `${flow.label}: ${MAX_WAITING} datagrams wait for ${dst} to be resolved`)
      // The payload may be a view into a buffer the tunnel reuses: keep a copy while it waits.
      d.waiting.push({ flow, kind, id, payload: payload.slice() })
    },
    close() {
      closed = true
      for (const d of destinations.values()) void d.out?.close()
      destinations.clear()
    },
  }
}
