import type { Buffer } from 'node:buffer'

/** Names dnsmasq answers, and the answers (documentation ranges: data, never contacted). */
export const RECORDS: Record<string, string>
/** dnsmasq's arguments for 127.0.0.1:port answering RECORDS only (and what `extra` adds): no upstream, no cache, no hosts file. */
export function dnsmasqArgs(port: number, extra?: string[]): string[]
/** A DNS query for `name`, type A, class IN, recursion desired, with the 16-bit `id`. */
export function dnsQuery(id: number, name: string): Buffer

/** What startDnsmasq needs of a started process. */
export interface Startable {
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<unknown>
  stop(signal?: NodeJS.Signals): Promise<unknown>
}

/**
 * Starts dnsmasq on a free port (on another one when that was taken before dnsmasq bound it) and
 * waits until it says it has started. `start` runs the command (spawnWatched by default).
 */
export function startDnsmasq<P extends Startable>(opts: { start: (cmd: string[]) => P; extraArgs?: string[]; attempts?: number }): Promise<{ port: number; process: P }>
export function startDnsmasq(opts?: { extraArgs?: string[]; attempts?: number }): Promise<{ port: number; process: import('./watched-process.mjs').WatchedProcess }>
