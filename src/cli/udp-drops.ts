/**
 * Datagrams the kernel dropped because one of this process's UDP sockets had a full receive buffer:
 * a flood, or a half that does not read fast enough. No runtime reports them, so they are read from
 * Linux's /proc/net/udp and udp6 (the `drops` column, per socket) for the sockets this process holds
 * (/proc/self/fd), every 10 s and at each metrics scrape. A socket's count is added as it grows, so
 * the total only rises; drops on a socket in its last seconds before it closes may be missed.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import type { Logger } from '../base/logger.ts'
import { unrefTimer } from '../base/clock.ts'

/** Drops per socket inode from one /proc/net/udp{,6} text (columns: ... inode ref pointer drops). */
export function parseUdpDrops(text: string, into: Map<number, number> = new Map()): Map<number, number> {
  for (const line of text.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/)
    if (cols.length < 13) continue
    const inode = Number(cols[9])
    const drops = Number(cols[12])
    if (Number.isFinite(inode) && Number.isFinite(drops)) into.set(inode, drops)
  }
  return into
}

/** The socket inodes among this process's descriptors. */
function ownSockets(): Set<number> {
  const inodes = new Set<number>()
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))
      if (m) inodes.add(Number(m[1]))
    } catch {
      // closed since the listing
    }
  }
  return inodes
}

export class UdpDropCounter {
  /** Drops seen so far, over every socket this process held. */
  total = 0
  private readonly seen = new Map<number, number>()
  /** False once /proc could not be read (not Linux, or Deno without --allow-read): nothing to report. */
  available = true

  /** Reads /proc now; returns the total, or undefined when it cannot be read. */
  sample(): number | undefined {
    if (!this.available) return undefined
    let table: Map<number, number>
    let own: Set<number>
    try {
      table = parseUdpDrops(readFileSync('/proc/net/udp', 'utf8'))
      parseUdpDrops(readFileSync('/proc/net/udp6', 'utf8'), table)
      own = ownSockets()
    } catch {
      this.available = false
      return undefined
    }
    for (const inode of [...this.seen.keys()]) if (!own.has(inode) || !table.has(inode)) this.seen.delete(inode)
    for (const inode of own) {
      const drops = table.get(inode)
      if (drops === undefined) continue
      const before = this.seen.get(inode)
      // A socket first seen counts its drops so far: they happened while this process held it.
      this.total += drops - (before ?? 0)
      this.seen.set(inode, drops)
    }
    return this.total
  }
}

/**
 * Samples now and every `everyMs`, and logs one warning per sample that found new drops (so at
 * most one line per period). Where /proc cannot be read it says so once and stops.
 */
export function watchUdpDrops(log: Logger, signal: AbortSignal, everyMs = 10_000): UdpDropCounter {
  const counter = new UdpDropCounter()
  if (counter.sample() === undefined) {
    log.info('kernel drops on full UDP receive buffers are not counted: /proc/net/udp and /proc/self/fd cannot be read here (Linux only; Deno reads /proc only with --allow-all)')
    return counter
  }
  let reported = counter.total
  const timer = unrefTimer(setInterval(() => {
    const total = counter.sample() ?? reported
    if (total <= reported) return
    log.warn(`the kernel dropped ${total - reported} datagrams for full UDP receive buffers in the last ${everyMs / 1000} s (${total} since start): the half does not read as fast as they arrive`, { code: 'dropped.udp_receive_buffer' })
    reported = total
  }, everyMs))
  signal.addEventListener('abort', () => clearInterval(timer), { once: true })
  return counter
}
