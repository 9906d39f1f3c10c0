/**
 * What every listening server of the node adapter does with a raw connection before anything
 * else (net, tls, http, https, http2 on all three runtimes): admits it through the half's gate (a
 * refused one is answered, where the protocol allows, and closed at once), and gives it a hello
 * deadline: a connection that has not started (a first request, upgrade, stream or hello) in time
 * is closed. Tickets are found again by the peer's address and port, which the raw socket and the
 * TLS socket over it share.
 */
import type net from 'node:net'
import crypto from 'node:crypto'
import type { ConnectionGate, GateTicket } from '../../ports/runtime.ts'
import { socketAddress } from '../../base/address.ts'

export interface GuardOptions {
  gate?: ConnectionGate
  /** Close a connection that has not started within this time (0 or absent: no deadline here). */
  helloTimeoutMs?: number
  /** What to write to a refused connection before closing it (a plain protocol's refusal). */
  refusal?(reason: string): Uint8Array | undefined
}

interface Entry {
  ticket: GateTicket | undefined
  timer: ReturnType<typeof setTimeout> | undefined
}

const keyOf = (s: net.Socket) => `${s.remoteAddress}|${s.remotePort}`

function expire(socket: net.Socket): void {
  socket.destroy()
}

export class ConnectionGuard {
  private readonly o: GuardOptions
  private readonly entries = new Map<string, Entry>()

  constructor(o: GuardOptions) {
    this.o = o
  }

  /** For the server's raw 'connection': false when the connection was refused (it is being closed). */
  accept(socket: net.Socket): boolean {
    let ticket: GateTicket | undefined
    if (this.o.gate) {
      const t = this.o.gate.enter(socketAddress(socket.remoteAddress, socket.remotePort))
      if (typeof t === 'string') {
        refuse(socket, this.o.refusal?.(t))
        return false
      }
      ticket = t
    }
    const ms = this.o.helloTimeoutMs
    if (!ticket && !ms) return true
    const key = keyOf(socket)
    const entry: Entry = { ticket, timer: ms ? setTimeout(expire, ms, socket) : undefined }
    this.entries.set(key, entry)
    socket.once('close', () => {
      if (entry.timer !== undefined) clearTimeout(entry.timer)
      entry.ticket?.leave()
      if (this.entries.get(key) === entry) this.entries.delete(key)
    })
    return true
  }

  /** The connection of `socket` (raw or TLS) started: its hello deadline is over. Returns its ticket. */
  started(socket: net.Socket | undefined): GateTicket | undefined {
    const entry = socket && this.entries.get(keyOf(socket))
    if (!entry) return undefined
    if (entry.timer !== undefined) clearTimeout(entry.timer)
    entry.timer = undefined
    return entry.ticket
  }
}

/** Writes `bytes` (if any) and closes at once: the descriptor is free as soon as they are flushed. */
function refuse(socket: net.Socket, bytes: Uint8Array | undefined): void {
  socket.on('error', () => {})
  if (!bytes) {
    socket.destroy()
    return
  }
  socket.end(bytes, () => socket.destroy())
  // A peer whose window is closed would keep the bytes (and the descriptor) waiting.
  setTimeout(() => socket.destroy(), 1000).unref()
}

/**
 * The TLS profile of every server here: TLS 1.2 with ECDHE key exchange and AEAD suites only
 * (AES-GCM, ChaCha20-Poly1305; no CBC, so no LUCKY13 or BEAST), TLS 1.3 with its own suites, the
 * server's preference, and no renegotiation (a client-initiated one is refused).
 */
export const TLS_PROFILE = {
  minVersion: 'TLSv1.2' as const,
  ciphers: [
    'TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256',
    'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
  honorCipherOrder: true,
  // SSL_OP_NO_RENEGOTIATION; 0 on Bun, whose BoringSSL never renegotiates as a server.
  secureOptions: crypto.constants.SSL_OP_NO_RENEGOTIATION ?? 0,
}
