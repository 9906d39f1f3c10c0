/**
 * udp/listen on `*`: one socket per local unicast address of each family (docs/addresses.md U1),
 * so a reply always leaves from the address its client sent to. Addresses that appear or vanish
 * are picked up every `rescan=` interval (default 30 s) and on rescan() (U4): a new one gets a
 * socket on the same port, a vanished one's socket and flows end (`session-lost`).
 */
import { formatAddress } from '../../base/address.ts'
import { unrefTimer } from '../../base/clock.ts'
import { RelayError } from '../../base/errors.ts'
import type { HalfContext } from '../../core/connector.ts'
import { bindAll, skipUnavailableAddress } from '../../net/bind-all.ts'
import type { Endpoint } from '../../net/endpoint.ts'
import { localUnicastAddresses } from '../../net/local-addresses.ts'
import { effectiveFamily } from '../../net/resolve.ts'
import type { Family, ResolvedAddress } from '../../ports/runtime.ts'
import type { ListenSockets } from './sockets.ts'

export class EveryAddress {
  private readonly ctx: HalfContext
  private readonly endpoint: Endpoint
  private readonly text: string
  private readonly sockets: ListenSockets
  private readonly rescanMs: number
  private port: number
  private timer: ReturnType<typeof setInterval> | undefined
  /** The rescan running now, and the one queued behind it. */
  private running: Promise<void> | undefined
  private queued: Promise<void> | undefined
  private closed = false

  constructor(ctx: HalfContext, endpoint: Endpoint, text: string, sockets: ListenSockets, rescanMs: number) {
    this.ctx = ctx
    this.endpoint = endpoint
    this.text = text
    this.sockets = sockets
    this.rescanMs = rescanMs
    this.port = endpoint.port
  }

  async start(): Promise<void> {
    const addrs = this.enumerate(true)
    if (addrs.length === 0) throw new RelayError('E_LISTEN', `${this.text}: no local address to listen on`)
    const bound = await bindAll(this.text, addrs, this.port, skipUnavailableAddress(this.text), (addr, port) => this.sockets.bind(addr, port, false), (m) => this.sockets.log.warn(m))
    this.port = bound[0]!.local.port
    this.sockets.keepOnly(bound)
    this.sockets.log.info(`listening on port ${this.port} of ${bound.length} local address${bound.length === 1 ? '' : 'es'}: ${bound.map((s) => formatAddress(s.local)).join(', ')}`)
    if (this.rescanMs > 0) this.timer = unrefTimer(setInterval(() => void this.rescan(), this.rescanMs))
  }

  /** One rescan at a time; a call during one runs another right after it (it may have looked too early). */
  rescan(): Promise<void> {
    if (this.closed) return Promise.resolve()
    if (this.running) {
      this.queued ??= this.running.then(() => {
        this.queued = undefined
        return this.rescan()
      })
      return this.queued
    }
    // The callback runs asynchronously, so always after the assignment below.
    const current = this.scan().catch((err) => this.sockets.log.warn(`rescan failed: ${(err as Error).message}`)).then(() => {
      this.running = undefined
    })
    this.running = current
    return current
  }

  async close(): Promise<void> {
    this.closed = true
    if (this.timer !== undefined) clearInterval(this.timer)
    await this.running
  }

  private families(): Family[] {
    const f = effectiveFamily(this.endpoint, this.ctx.options.family, this.text)
    return f === undefined ? [6, 4] : [f]
  }

  private enumerate(warn: boolean): ResolvedAddress[] {
    const found = localUnicastAddresses(this.ctx.runtime, this.families(), this.text, this.endpoint.iface)
    if (warn) for (const f of found.missing) this.sockets.log.warn(`W_FAMILY_UNAVAILABLE ${this.text}: this host has no IPv${f} address, listening without it`)
    return found.addresses
  }

  private async scan(): Promise<void> {
    const now = this.enumerate(false)
    const wanted = new Set(now.map((a) => a.address))
    for (const address of this.sockets.boundAddresses()) if (!wanted.has(address)) this.sockets.drop(address)
    for (const addr of now) {
      if (this.sockets.has(addr.address) || this.closed) continue
      try {
        const s = await this.sockets.bind(addr, this.port, false)
        if (this.closed) s.close()
        else this.sockets.log.info(`new address: listening on ${formatAddress(s.local)}`)
      } catch (err) {
        this.sockets.log.warn(`W_ADDRESS_UNAVAILABLE ${this.text}: cannot bind new address ${addr.address} on port ${this.port}: ${(err as Error).message}`)
      }
    }
  }
}
