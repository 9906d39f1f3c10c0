/** A DNS query for `name`, type A, class IN, recursion desired (what the bench's dnsmasq answers). */
export function dnsQuery(id, name) {
  const labels = name.split('.').flatMap((l) => [l.length, ...Buffer.from(l)])
  return Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, ...labels, 0, 0, 1, 0, 1])
}
