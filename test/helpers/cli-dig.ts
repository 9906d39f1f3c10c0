import assert from 'node:assert/strict'
import type { TestContext } from '../harness.ts'
import { RECORDS, dig, startDnsmasq } from './dns.ts'
import { CLI, cleanExit, startProcess, type Proc } from './processes.ts'
import { withFreePorts } from './with-free-ports.ts'

export interface CliDigOptions {
  /** Arguments for the far half only (after `args`), e.g. its certificate. */
  farArgs?: string[]
  /** Arguments for the near half only (after `args`), e.g. the CA to check the far half with. */
  nearArgs?: string[]
  /** What the far half prints once it is ready (default: it listens). */
  farReady?: RegExp
  /** Start the near half first: it must keep retrying until the far half is up. */
  nearFirst?: boolean
}

/**
 * dig → near half (this runtime's CLI, udp/listen → `client(port)`) → tunnel → far half
 * (`server(port)` → udp/broadcast) → dnsmasq, two names, then both halves stop cleanly. The
 * tunnel's port and the near half's are picked free; taken meanwhile, both halves start again on
 * new ones.
 */
export async function digThroughCliHalves(t: TestContext, server: (port: number) => string, client: (port: number) => string, args: string[] = [], o: CliDigOptions = {}): Promise<void> {
  const cli = CLI[t.runtime]
  const dns = await startDnsmasq(t)
  const { near, far, nearPort } = await withFreePorts(t, 2, async ([tunnelPort, nearPort], t) => {
    const startFar = async () => {
      const far = startProcess(t, [...cli, '--in', server(tunnelPort!), '--out', `udp/broadcast:127.0.0.1:${dns}`, ...args, ...(o.farArgs ?? [])])
      await far.waitFor(o.farReady ?? /listening on/)
      return far
    }
    const startNear = () => startProcess(t, [...cli, '--in', `udp/listen:127.0.0.1:${nearPort}`, '--out', client(tunnelPort!), ...args, ...(o.nearArgs ?? [])])
    let far: Proc
    let near: Proc
    if (o.nearFirst) {
      near = startNear()
      await near.waitFor(/udp\/listen listening on 127\.0\.0\.1/)
      far = await startFar()
    } else {
      far = await startFar()
      near = startNear()
    }
    await near.waitFor(/connected to/)
    return { near, far, nearPort: nearPort! }
  })
  assert.equal(await dig(nearPort, 'host.example'), RECORDS['host.example'])
  assert.equal(await dig(nearPort, 'other.example'), RECORDS['other.example'])
  assert.ok(cleanExit(await near.stop(), near.output(), t.runtime), near.output())
  assert.ok(cleanExit(await far.stop(), far.output(), t.runtime), far.output())
}
