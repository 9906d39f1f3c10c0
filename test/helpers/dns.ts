import { freePort } from './ports.ts'
import { needPeers } from './peers.ts'
import { run, startProcess } from './processes.ts'
import type { TestContext } from '../harness.ts'

/** Names the test dnsmasq answers, and the answers (documentation ranges: data, never contacted). */
export const RECORDS: Record<string, string> = {
  'host.example': '192.0.2.10',
  'other.example': '198.51.100.7',
  'many.example': '203.0.113.1',
}

/** Starts Debian's dnsmasq on 127.0.0.1:<port> answering RECORDS (and `extra` options' records) only: no upstream, no hosts file. */
export async function startDnsmasq(t: TestContext, port?: number, extra: string[] = []): Promise<number> {
  needPeers('dnsmasq')
  const p = port ?? (await freePort())
  const records = Object.entries(RECORDS).map(([name, addr]) => `--host-record=${name},${addr}`)
  const proc = startProcess(t, ['dnsmasq', '--keep-in-foreground', '--log-facility=-', `--port=${p}`, '--listen-address=127.0.0.1', '--bind-interfaces', '--no-resolv', '--no-hosts', '--conf-file=/dev/null', '--pid-file=', '--user=root', '--cache-size=0', ...records, ...extra])
  await proc.waitFor(/started, version/, 10_000)
  return p
}

/** One dig query; returns the answer lines (+short). */
export async function dig(port: number, name: string, opts: { tries?: number; timeSec?: number; server?: string } = {}): Promise<string> {
  needPeers('dig')
  const r = await run(['dig', `@${opts.server ?? '127.0.0.1'}`, '-p', String(port), name, 'A', '+short', `+tries=${opts.tries ?? 1}`, `+time=${opts.timeSec ?? 3}`])
  return r.stdout.trim()
}
