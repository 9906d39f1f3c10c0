import dgram from 'node:dgram'
import net from 'node:net'
import type { TestContext } from '../harness.ts'

/** A reply to `query` with answer records [type, rdata] (owner: a pointer to the question name). */
export function dnsReply(query: Uint8Array, answers: [number, number[]][], opts: { rcode?: number; tc?: boolean; id?: number } = {}): Uint8Array {
  const out = [...query]
  if (opts.id !== undefined) [out[0], out[1]] = [opts.id >> 8, opts.id & 0xff]
  out[2] = 0x81 | (opts.tc ? 0x02 : 0)
  out[3] = 0x80 | (opts.rcode ?? 0)
  out[6] = answers.length >> 8
  out[7] = answers.length & 0xff
  for (const [type, rdata] of answers) out.push(0xc0, 12, type >> 8, type & 0xff, 0, 1, 0, 0, 0, 60, rdata.length >> 8, rdata.length & 0xff, ...rdata)
  return Uint8Array.from(out)
}

/** The question type of a query (1 = A, 28 = AAAA). */
export function queryType(query: Uint8Array): number {
  let off = 12
  while (query[off]! !== 0) off += 1 + query[off]!
  return (query[off + 1]! << 8) | query[off + 2]!
}

export interface FakeDns {
  port: number
  /** Queries seen, by transport. */
  udp: number
  tcp: number
}

/**
 * A DNS server on 127.0.0.1 (UDP and TCP on one port) whose answers the test scripts: `answer`
 * returns the datagrams to send back for one query (none: stay silent), each after its delay.
 */
export async function fakeDns(t: TestContext, answer: (query: Uint8Array, transport: 'udp' | 'tcp') => { data: Uint8Array; delayMs?: number }[]): Promise<FakeDns> {
  const state: FakeDns = { port: 0, udp: 0, tcp: 0 }
  const timers = new Set<ReturnType<typeof setTimeout>>()
  const later = (ms: number | undefined, fn: () => void) => {
    const tm = setTimeout(() => {
      timers.delete(tm)
      fn()
    }, ms ?? 0)
    timers.add(tm)
  }
  const udp = dgram.createSocket('udp4')
  udp.on('message', (msg, from) => {
    state.udp++
    for (const r of answer(new Uint8Array(msg), 'udp')) later(r.delayMs, () => udp.send(r.data, from.port, from.address))
  })
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve))
  state.port = udp.address().port
  const tcp = net.createServer((sock) => {
    let buf = Buffer.alloc(0)
    sock.on('error', () => {})
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d])
      if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return
      state.tcp++
      for (const r of answer(new Uint8Array(buf.subarray(2, 2 + buf.readUInt16BE(0))), 'tcp')) {
        later(r.delayMs, () => sock.write(Buffer.concat([Buffer.from([r.data.length >> 8, r.data.length & 0xff]), r.data])))
      }
    })
  })
  await new Promise<void>((resolve) => tcp.listen(state.port, '127.0.0.1', resolve))
  t.defer(() => {
    for (const tm of timers) clearTimeout(tm)
    udp.close()
    tcp.close()
  })
  return state
}
