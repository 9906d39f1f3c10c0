import { slabCopy } from '../../base/slab.ts'
import type { UdpBindOptions, UdpSocket } from '../../ports/runtime.ts'
import { bindUdp as bindNodeUdp } from '../node/udp.ts'
import { isLinkLocal } from '../../base/address.ts'

/** The slice of Deno.listenDatagram we use (Deno's types are not installed). */
interface DenoNetAddr {
  transport: 'udp'
  hostname: string
  port: number
}

/** A multicast membership of Deno.listenDatagram. */
export interface DenoMembership {
  leave(): Promise<void>
  setLoopback(on: boolean): Promise<void>
}

export interface DenoDatagramConn {
  readonly addr: DenoNetAddr
  joinMulticastV4?(group: string, ifaceAddress: string): Promise<DenoMembership>
  joinMulticastV6?(group: string, ifaceIndex: number): Promise<DenoMembership>
  receive(buf?: Uint8Array): Promise<[Uint8Array, DenoNetAddr]>
  send(data: Uint8Array, addr: DenoNetAddr): Promise<number>
  close(): void
}

interface DenoGlobal {
  listenDatagram?(opts: { transport: 'udp'; hostname: string; port: number; reuseAddress?: boolean }): DenoDatagramConn
}

declare const Deno: DenoGlobal

interface Outgoing {
  data: Uint8Array
  to: DenoNetAddr
}

/** Bounds of the per-socket send queue (no unbounded queues, docs/architecture.md#what-every-part-keeps-to). */
const QUEUE_MAX_PACKETS = 1024
const QUEUE_MAX_BYTES = 4 << 20

function errorWithCode(code: string, message: string): Error {
  return Object.assign(new Error(message), { code })
}

/** Largest UDP payload over IPv4; Deno's own default read buffer has the same size. */
const MAX_DATAGRAM = 65507

/** Deno.listenDatagram exists only with --unstable-net (docs/runtimes.md#deno-needs-a-flag-for-native-udp). */
export const hasNativeUdp = typeof Deno.listenDatagram === 'function'

let warned = false

/**
 * Ports of sockets closed but not yet released. Deno frees the fd only once the pending receive
 * (or send) op has been cancelled, a macrotask after close(), so a relay restarting on the same
 * port would get EADDRINUSE: bind waits for that instead.
 */
const releasing = new Map<number, Promise<unknown>>()

/**
 * UDP on Deno. Deno.listenDatagram is ~100× faster than Deno's node:dgram at receiving
 * (docs/runtimes.md#udp-throughput), so it is used whenever --unstable-net is on; otherwise node:dgram.
 *
 * Buffer reuse: the native path receives every datagram into ONE buffer it reuses, so `data` is only
 * valid during onMessage (copy it to keep it). This saves a 64 KiB allocation per datagram, and a
 * kept 10-byte view would otherwise pin 64 KiB.
 */
export function bindUdp(opts: UdpBindOptions): Promise<UdpSocket> {
  const onMessage = withZone(opts)
  if (!hasNativeUdp) {
    if (!warned) {
      warned = true
      console.warn('edgerelay: Deno.listenDatagram is unavailable (run deno with --unstable-net); using node:dgram, which on Deno receives only ~1k datagrams/s and can reorder bursts of sends')
    }
    return bindNodeUdp({ ...opts, onMessage })
  }
  return bindNative(opts, onMessage)
}

/**
 * Deno drops the %zone of received link-local addresses
 * (docs/runtimes.md#deno-loses-the-zone-of-link-local-addresses), so a reply would leave through
 * the wrong link. A socket bound to a zoned link-local address can only hear
 * that link: give received fe80::/10 addresses the bound zone back.
 */
function withZone(opts: UdpBindOptions): UdpBindOptions['onMessage'] {
  const percent = opts.address.indexOf('%')
  if (percent < 0 || !isLinkLocal(opts.address)) return opts.onMessage
  const zone = opts.address.slice(percent)
  return (data, address, port) => {
    opts.onMessage(data, isLinkLocal(address) && !address.includes('%') ? address + zone : address, port)
  }
}

/** Deno also drops the zone from the bound address; Node keeps it. */
function keepZone(bound: string, asked: string): string {
  const percent = asked.indexOf('%')
  return percent >= 0 && !bound.includes('%') && isLinkLocal(bound) ? bound + asked.slice(percent) : bound
}


/**
 * A native socket with `setup` run on it before it is handed out (multicast joins); if setup
 * fails the socket is closed and the error thrown.
 */
export function bindNativeUdp(opts: UdpBindOptions, setup: (conn: DenoDatagramConn) => Promise<void>): Promise<UdpSocket> {
  return bindNative(opts, withZone(opts), setup)
}

async function bindNative(opts: UdpBindOptions, onMessage: UdpBindOptions['onMessage'], setup?: (conn: DenoDatagramConn) => Promise<void>): Promise<UdpSocket> {
  // Deno has no ipv6Only (always dual-stack on '::') and SO_BROADCAST is always on, so
  // opts.ipv6Only and opts.broadcast need nothing here (see capabilities in ./index.ts).
  if (opts.port !== 0) await releasing.get(opts.port)
  const conn = Deno.listenDatagram!({ transport: 'udp', hostname: opts.address, port: opts.port, reuseAddress: opts.reuseAddr ?? false })
  if (setup) {
    try {
      await setup(conn)
    } catch (err) {
      conn.close()
      throw err
    }
  }
  let closed = false
  const onError = (err: unknown) => {
    if (!closed) opts.onError?.(err instanceof Error ? err : new Error(String(err)))
  }

  // Sends that are not awaited can leave in reverse order on Deno (measured: bursts of 64 went out
  // last-first), so one send is in flight at a time and the rest wait, in order, in a bounded queue.
  let queue: Outgoing[] = []
  let head = 0
  let queuedBytes = 0
  let sending = false
  let inFlight: Promise<unknown> = Promise.resolve()

  const pump = async () => {
    sending = true
    while (head < queue.length && !closed) {
      const p = queue[head]
      queue[head++] = undefined as unknown as Outgoing
      queuedBytes -= p.data.byteLength
      try {
        inFlight = conn.send(p.data, p.to)
        await inFlight
      } catch (err) {
        onError(err)
      }
      if (head > 1024 && head * 2 > queue.length) {
        queue = queue.slice(head)
        head = 0
      }
    }
    if (head === queue.length) {
      queue = []
      head = 0
    }
    sending = false
  }

  const socket: UdpSocket = {
    local: { address: keepZone(conn.addr.hostname, opts.address), port: conn.addr.port, family: opts.family },
    send(data, port, address) {
      if (closed) return
      if (queue.length - head >= QUEUE_MAX_PACKETS || queuedBytes + data.byteLength > QUEUE_MAX_BYTES) {
        onError(errorWithCode('ENOBUFS', `UDP send queue full (${queue.length - head} datagrams): dropped a ${data.byteLength}-byte datagram to ${address}:${port}`))
        return
      }
      // Copied: Deno's send is zero-copy and happens later, while the caller may reuse `data` at
      // once (a view of our own receive buffer, or of a tunnel's reassembly buffer).
      const payload = slabCopy(data)
      queue.push({ data: payload, to: { transport: 'udp', hostname: address, port } })
      queuedBytes += payload.byteLength
      if (!sending) void pump()
    },
    close() {
      if (closed) return
      closed = true
      queue = []
      head = 0
      queuedBytes = 0
      try {
        conn.close()
      } catch {
        // The resource is already gone (a failed receive took it with it).
      }
      const port = socket.local.port
      const released: Promise<unknown> = Promise.allSettled([receiving, inFlight]).then(() => {
        if (releasing.get(port) === released) releasing.delete(port)
      })
      releasing.set(port, released)
    },
  }

  const receiving = (async () => {
    const buf = new Uint8Array(MAX_DATAGRAM)
    let failures = 0
    while (!closed) {
      let received: [Uint8Array, DenoNetAddr]
      try {
        received = await conn.receive(buf)
      } catch (err) {
        // close() makes the pending receive reject (Interrupted / BadResource): that is the normal end.
        if (closed) return
        onError(err)
        const name = (err as { name?: string }).name
        if (name === 'BadResource' || name === 'Interrupted' || ++failures > 100) {
          // Give up for good rather than spin on a broken socket.
          socket.close()
          return
        }
        continue
      }
      failures = 0
      try {
        onMessage(received[0], received[1].hostname, received[1].port)
      } catch (err) {
        // A throwing handler must not end the loop (nor become an unhandled rejection).
        onError(err)
      }
    }
  })()

  return socket
}
