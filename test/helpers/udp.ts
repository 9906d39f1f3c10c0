import { readFileSync } from 'node:fs'
import { runtime as defaultRuntime } from '#runtime'
import type { UdpSocket } from '../../src/ports/runtime.ts'
import type { TestContext } from '../harness.ts'

export interface UdpPeer {
  socket: UdpSocket
  port: number
  /** Every datagram received so far, copied. */
  received: { data: Uint8Array; address: string; port: number }[]
  send(data: Uint8Array | string, port: number, address?: string): void
  /** Waits until at least `n` datagrams have arrived. */
  waitCount(n: number, timeoutMs?: number): Promise<void>
}

const enc = new TextEncoder()
export const text = (d: Uint8Array) => new TextDecoder().decode(d)

/** A UDP socket on loopback for tests, closed when the test ends. */
export async function udpPeer(t: TestContext, opts: { address?: string; port?: number; onMessage?: (peer: UdpPeer, data: Uint8Array, address: string, port: number) => void } = {}): Promise<UdpPeer> {
  const rt = defaultRuntime
  const address = opts.address ?? '127.0.0.1'
  const received: UdpPeer['received'] = []
  let waiters: (() => void)[] = []
  let peer!: UdpPeer
  const socket = await rt.bindUdp({
    address,
    port: opts.port ?? 0,
    family: address.includes(':') ? 6 : 4,
    onMessage(data, from, port) {
      const copy = data.slice()
      received.push({ data: copy, address: from, port })
      opts.onMessage?.(peer, copy, from, port)
      for (const w of waiters) w()
    },
  })
  t.defer(() => socket.close())
  peer = {
    socket,
    port: socket.local.port,
    received,
    send(data, port, to = address) {
      socket.send(typeof data === 'string' ? enc.encode(data) : data, port, to)
    },
    waitCount(n, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (received.length >= n) {
            clearTimeout(timer)
            waiters = waiters.filter((w) => w !== check)
            resolve()
          }
        }
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w !== check)
          reject(new Error(`expected ${n} datagrams within ${timeoutMs} ms, got ${received.length}`))
        }, timeoutMs)
        waiters.push(check)
        check()
      })
    },
  }
  return peer
}

export interface EchoDevice extends UdpPeer {
  /** The requests answered so far, as text, in the order the answers were sent. */
  answered: string[]
}

/**
 * A device that answers every datagram with `reply<i>:` + the request (`copies` times, i from 0),
 * after `delayMs` (a number, or one per request's text) when given.
 */
export async function echoDevice(t: TestContext, opts: { copies?: number; delayMs?: number | ((request: string) => number); address?: string } = {}): Promise<EchoDevice> {
  const answered: string[] = []
  const peer = await udpPeer(t, {
    address: opts.address,
    onMessage(peer, data, address, port) {
      const answer = () => {
        for (let i = 0; i < (opts.copies ?? 1); i++) peer.socket.send(Uint8Array.from([...enc.encode(`reply${i}:`), ...data]), port, address)
        answered.push(text(data))
      }
      const delay = typeof opts.delayMs === 'function' ? opts.delayMs(text(data)) : opts.delayMs
      if (delay) setTimeout(answer, delay)
      else answer()
    },
  })
  return Object.assign(peer, { answered })
}


/** Whether some UDP socket on this machine is bound to `port` (any address; read from /proc/net/udp and udp6). */
export function udpPortBound(port: number): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`
  return ['/proc/net/udp', '/proc/net/udp6'].some((file) => {
    const rows = readFileSync(file, 'utf8').split('\n').slice(1)
    return rows.some((row) => row.trim().split(/\s+/)[1]?.endsWith(hex))
  })
}

/** Sends `payload` from a new client socket to 127.0.0.1:port and returns the first reply's text. */
export async function roundTrip(t: TestContext, port: number, payload = 'ping'): Promise<string> {
  const client = await udpPeer(t)
  client.send(payload, port)
  await client.waitCount(1, 5000)
  return text(client.received[0]!.data)
}
