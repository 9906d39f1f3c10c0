import assert from 'node:assert/strict'
import type { TestContext } from '../harness.ts'
import { RECORDS, dig, startDnsmasq } from './dns.ts'
import { freePort } from './free-ports.mjs'
import { CLI, cleanExit, startProcess } from './processes.ts'

/**
 * dig → near half (this runtime's CLI, udp/listen → `client(port)`) → tunnel → far half
 * (`server(port)` → udp/broadcast) → dnsmasq, two names, then both halves stop cleanly.
 */
export async function digThroughCliHalves(t: TestContext, server: (port: number) => string, client: (port: number) => string, args: string[] = [], o: { farArgs?: string[]; farReady?: RegExp } = {}): Promise<void> {
  const cli = CLI[t.runtime]
  const dns = await startDnsmasq(t)
  const [tunnelPort, nearPort] = [await freePort(), await freePort()]
  const far = startProcess(t, [...cli, '--in', server(tunnelPort), '--out', `udp/broadcast:127.0.0.1:${dns}`, ...args, ...(o.farArgs ?? [])])
  await far.waitFor(o.farReady ?? /listening on/)
  const near = startProcess(t, [...cli, '--in', `udp/listen:127.0.0.1:${nearPort}`, '--out', client(tunnelPort), ...args])
  await near.waitFor(/connected to/)
  assert.equal(await dig(nearPort, 'host.example'), RECORDS['host.example'])
  assert.equal(await dig(nearPort, 'other.example'), RECORDS['other.example'])
  assert.ok(cleanExit(await near.stop(), near.output(), t.runtime), near.output())
  assert.ok(cleanExit(await far.stop(), far.output(), t.runtime), far.output())
}
