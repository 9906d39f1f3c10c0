import { RECORDS, startDnsmasq as startShared } from './dnsmasq.mjs'
import { needPeers } from './peers.ts'
import { run, startProcess } from './processes.ts'
import type { TestContext } from '../harness.ts'

export { RECORDS }

/**
 * Starts Debian's dnsmasq on a free 127.0.0.1 port for this test, answering RECORDS (and the
 * records `extra` options add) only: no upstream, no hosts file. Returns the port.
 */
export async function startDnsmasq(t: TestContext, opts: { extra?: string[] } = {}): Promise<number> {
  needPeers('dnsmasq')
  return (await startShared({ start: (cmd) => startProcess(t, cmd), extraArgs: opts.extra })).port
}

/** One dig query; returns the answer lines (+short). */
export async function dig(port: number, name: string, opts: { tries?: number; timeSec?: number; server?: string } = {}): Promise<string> {
  needPeers('dig')
  const r = await run(['dig', `@${opts.server ?? '127.0.0.1'}`, '-p', String(port), name, 'A', '+short', `+tries=${opts.tries ?? 1}`, `+time=${opts.timeSec ?? 3}`])
  return r.stdout.trim()
}
