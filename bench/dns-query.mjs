/** The DNS side of the bench: the names dnsmasq answers, how it is started, and the query. */

/** Names dnsmasq answers (documentation address ranges: data only, never contacted). */
export const RECORDS = {
  'host.example': '192.0.2.10',
  'other.example': '198.51.100.7',
  'many.example': '203.0.113.1',
  'door.example': '192.0.2.44',
  'panel.example': '198.51.100.90',
}

/** dnsmasq on 127.0.0.1:port answering RECORDS only: no upstream, no cache, no hosts file. */
export function dnsmasqArgs(port) {
  return [
    '--keep-in-foreground', '--log-facility=-', `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces',
    '--no-resolv', '--no-hosts', '--conf-file=/dev/null', '--pid-file=', '--user=root', '--cache-size=0',
    ...Object.entries(RECORDS).map(([name, addr]) => `--host-record=${name},${addr}`),
  ]
}

/** A DNS query for `name`, type A, class IN, recursion desired (what the bench's dnsmasq answers). */
export function dnsQuery(id, name) {
  const labels = name.split('.').flatMap((l) => [l.length, ...Buffer.from(l)])
  return Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, ...labels, 0, 0, 1, 0, 1])
}
