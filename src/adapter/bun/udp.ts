import { slabCopy } from '../../base/slab.ts'
import type { MulticastOps } from '../node/multicast.ts'
import type { UdpBindOptions, UdpSocket } from '../../ports/runtime.ts'

/** The slice of Bun.udpSocket we use (bun-types is not installed). */
interface BunUdpSocket {
  readonly hostname: string
  readonly port: number
  readonly address: { address: string; family: string; port: number }
  readonly closed: boolean
  send(data: Uint8Array, port: number, address: string): boolean
  /** Flat [data, port, address, ...] list in one sendmmsg; returns how many left (stops at the first failure). */
  sendMany(packets: (Uint8Array | number | string)[]): number
  setBroadcast(on: boolean): boolean
  close(): void
}

/** Bun.udpSocket's multicast methods are node:dgram's (same names and arguments). */
type BunSocket = BunUdpSocket & MulticastOps

interface BunUdpOptions {
  hostname: string
  port: number
  flags: number
  binaryType: 'uint8array'
  socket: {
    data(socket: BunUdpSocket, buf: Uint8Array, port: number, address: string): void
    drain(socket: BunUdpSocket): void
    error(socket: BunUdpSocket, err: Error): void
  }
}

declare const Bun: { udpSocket(opts: BunUdpOptions): Promise<BunSocket> }

// Bun.udpSocket silently ignores the named ipv6Only/reuseAddr options; only these flags work
// (values from Bun's node:dgram, docs/runtimes.md#bunudpsocket-ignores-its-named-options).
const FLAG_IPV6_ONLY = 8
const FLAG_REUSE_ADDR = 16

/**
 * send() returns false (sendMany: fewer than asked) when the kernel would block (EAGAIN): those
 * datagrams were NOT sent. We keep a small bounded queue of them and flush it on `drain`, like
 * libuv does for node:dgram but bounded.
 */
const QUEUE_MAX_PACKETS = 1024
const QUEUE_MAX_BYTES = 4 << 20

/** Bun reports a zoned link-local bind (fe80::1%eth0) without its zone; Node keeps it. */
function withBoundZone(bound: string, asked: string): string {
  const percent = asked.indexOf('%')
  return percent >= 0 && !bound.includes('%') ? bound + asked.slice(percent) : bound
}

function errorWithCode(code: string, message: string): Error {
  return Object.assign(new Error(message), { code })
}

/**
 * UDP through Bun.udpSocket (+30–40 % pps over node:dgram on Bun, docs/runtimes.md#udp-throughput).
 * Every datagram arrives in a fresh Uint8Array (Bun copies out of its recvmmsg buffer), so `data`
 * stays valid after onMessage returns; callers must not rely on that (contract), but nothing is reused.
 * Sends are copied and go out together in one sendmmsg (sendMany) once the current callback
 * returns: a tunnel read that carries 30 replies costs one system call, not 30.
 */
export async function bindUdp(opts: UdpBindOptions, setup?: (socket: MulticastOps) => void): Promise<UdpSocket> {
  // Bun reports an ICMP error queued for an earlier datagram (a peer's port closed) by calling the
  // error handler with no error at all: say what it is instead of "undefined".
  const onError = (err: unknown) =>
    opts.onError?.(err instanceof Error ? err : err === undefined ? errorWithCode('ECONNREFUSED', 'an earlier datagram was refused (ICMP port unreachable): its receiver is gone') : new Error(String(err)))
  let queue: { data: Uint8Array; port: number; address: string }[] = []
  let queuedBytes = 0
  let closed = false
  // Datagrams sent during this turn, as sendMany's flat list; sent together right after it.
  let batch: (Uint8Array | number | string)[] = []
  let batchScheduled = false

  const enqueue = (data: Uint8Array, port: number, address: string) => {
    if (queue.length >= QUEUE_MAX_PACKETS || queuedBytes + data.byteLength > QUEUE_MAX_BYTES) {
      onError(errorWithCode('ENOBUFS', `UDP send queue full (${queue.length} datagrams): dropped a ${data.byteLength}-byte datagram to ${address}:${port}`))
      return
    }
    queue.push({ data, port, address })
    queuedBytes += data.byteLength
  }

  const flush = (socket: BunUdpSocket) => {
    while (queue.length && !closed) {
      const p = queue[0]
      let sent: boolean
      try {
        sent = socket.send(p.data, p.port, p.address)
      } catch (err) {
        sent = true // not retryable: drop it and go on
        onError(err)
      }
      if (!sent) return
      queue.shift()
      queuedBytes -= p.data.byteLength
    }
  }

  /**
   * One sendmmsg for the turn's datagrams. It stops at the first that fails: sendMany then throws
   * if that was the first of the list (the error is that datagram's: report it, drop it, go on),
   * or returns how many went before it, and the rest is tried again; 0 without a throw means the
   * kernel would block, and the rest waits in the drain queue.
   */
  const sendBatch = () => {
    batchScheduled = false
    const list = batch
    batch = []
    if (closed) return
    let at = 0
    while (at < list.length) {
      let sent: number
      try {
        sent = socket.sendMany(at === 0 ? list : list.slice(at))
      } catch (err) {
        onError(err)
        at += 3
        continue
      }
      if (sent === 0) break
      at += sent * 3
    }
    for (; at < list.length; at += 3) enqueue(list[at] as Uint8Array, list[at + 1] as number, list[at + 2] as string)
  }

  const socket = await Bun.udpSocket({
    hostname: opts.address,
    port: opts.port,
    flags: (opts.ipv6Only ? FLAG_IPV6_ONLY : 0) | (opts.reuseAddr ? FLAG_REUSE_ADDR : 0),
    binaryType: 'uint8array',
    socket: {
      data(_s, buf, port, address) {
        if (!closed) opts.onMessage(buf, address, port)
      },
      drain: flush,
      // Bun routes exceptions thrown by `data` here; without a handler they would crash the process.
      error(_s, err) {
        onError(err)
      },
    },
  })
  if (opts.broadcast || setup) {
    try {
      if (opts.broadcast) socket.setBroadcast(true)
      // Multicast memberships and options (./multicast.ts), before the socket is handed out.
      setup?.(socket)
    } catch (err) {
      socket.close()
      throw err
    }
  }

  return {
    local: { address: withBoundZone(socket.address.address, opts.address), port: socket.port, family: opts.family },
    send(data, port, address) {
      if (closed) return
      // Copy: the caller may reuse its buffer as soon as send() returns.
      const copy = slabCopy(data)
      if (queue.length > 0) {
        enqueue(copy, port, address)
        return
      }
      batch.push(copy, port, address)
      if (!batchScheduled) {
        batchScheduled = true
        queueMicrotask(sendBatch)
      }
    },
    close() {
      if (closed) return
      closed = true
      queue = []
      queuedBytes = 0
      batch = []
      socket.close()
    },
  }
}
