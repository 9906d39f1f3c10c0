// @ts-self-types="./dnsmasq.d.mts"
/**
 * The DNS server that tests and the bench talk to: Debian's dnsmasq on 127.0.0.1 answering a few
 * names, and the query they send it. Plain JavaScript (types in dnsmasq.d.mts): bench/*.mjs run
 * on node without a TypeScript loader.
 */
import { Buffer } from 'node:buffer'
import { onFreePorts } from './free-ports.mjs'
import { spawnWatched } from './watched-process.mjs'

/** Names dnsmasq answers, and the answers (documentation ranges: data, never contacted). */
export const RECORDS = {
  'host.example': '192.0.2.10',
  'other.example': '198.51.100.7',
  'many.example': '203.0.113.1',
  'door.example': '192.0.2.44',
  'panel.example': '198.51.100.90',
}

/** dnsmasq's arguments for 127.0.0.1:port answering RECORDS only (and what `extra` adds): no upstream, no cache, no hosts file. */
export function dnsmasqArgs(port, extra = []) {
  return [
    '--keep-in-foreground', '--log-facility=-', `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces',
    '--no-resolv', '--no-hosts', '--conf-file=/dev/null', '--pid-file=', '--user=root', '--cache-size=0',
    ...Object.entries(RECORDS).map(([name, addr]) => `--host-record=${name},${addr}`),
    ...extra,
  ]
}

/** A DNS query for `name`, type A, class IN, recursion desired, with the 16-bit `id`. */
export function dnsQuery(id, name) {
  const labels = name.split('.').flatMap((l) => [l.length, ...Buffer.from(l)])
  return Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, ...labels, 0, 0, 1, 0, 1])
}

/**
 * Starts dnsmasq on a free port (on another one when that was taken before dnsmasq bound it) and
 * waits until it says it has started. `start` runs the command: spawnWatched by default; tests
 * pass one that ties the process to the test. `extraArgs` go to dnsmasq after the usual ones.
 */
export async function startDnsmasq({ start = (cmd) => spawnWatched(cmd), extraArgs = [], attempts } = {}) {
  return onFreePorts(1, async ([port]) => {
    const proc = start(['dnsmasq', ...dnsmasqArgs(port, extraArgs)])
    try {
      await proc.waitFor(/started, version/, 10_000)
    } catch (err) {
      await proc.stop('SIGKILL')
      throw err
    }
    return { port, process: proc }
  }, { attempts })
}
