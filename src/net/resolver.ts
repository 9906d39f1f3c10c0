/**
 * Where names are resolved (Twisted's "control name resolution with the endpoint APIs"): the
 * system's getaddrinfo (default), a DNS server of the user's choice, a hosts file, or any function
 * a library user passes. A half swaps its runtime's `lookup` for the chosen one, so every
 * connector and the Happy Eyeballs race see the same answers.
 */
import type { Family, ResolvedAddress, Runtime, StreamConn } from '../ports/runtime.ts'
import { RelayError } from '../base/errors.ts'
import { hostPort } from '../base/address.ts'
import { encodeQuery, parseReply, type DnsAnswer } from './dns-message.ts'
import { parseHostPort } from './endpoint.ts'
import { parseIPv4, parseIPv6, formatIPv6 } from '../base/ip.ts'

/** Resolves a name to addresses in preference order; `family` restricts to A or AAAA. Rejects when there are none. */
export type Resolver = (name: string, family?: Family) => Promise<ResolvedAddress[]>

/** The runtime with its `lookup` replaced by `resolver` (the runtime itself when there is none). */
export function withResolver(rt: Runtime, resolver: Resolver | undefined): Runtime {
  return resolver ? { ...rt, lookup: resolver } : rt
}

/** RFC 8305 §3: once A has answered, AAAA gets this long before the race starts without it. */
const RESOLUTION_DELAY_MS = 50
const TRY_TIMEOUT_MS = 2000
const UDP_TRIES = 2

export interface DnsServer {
  address: string
  port: number
  family: Family
}

/** Parses `127.0.0.1:5353`, `[::1]:53`, `127.0.0.1` (port 53): an address literal (a name would need a resolver itself). */
export function parseDnsServer(text: string): DnsServer {
  const ep = parseHostPort(text, { role: 'connect', defaultPort: 53 })
  if (ep.hostKind !== 'ipv4' && ep.hostKind !== 'ipv6') throw new RelayError('E_CONFIG', `--resolver ${text}: the DNS server must be an address literal with a port (127.0.0.1:53, [::1]:53)`)
  return { address: ep.zone ? `${ep.host}%${ep.zone}` : ep.host, port: ep.port, family: ep.hostKind === 'ipv6' ? 6 : 4 }
}

/**
 * A stub resolver asking `server` directly: A and AAAA in parallel (RFC 8305 §3), each over UDP
 * from its own socket and random id, retried once, and over TCP when the reply is truncated.
 * Replies from another address, with another id or question are ignored. AAAA first in the result;
 * when A answers first, AAAA gets `resolutionDelayMs` (RFC 8305's 50 ms) more and is left out after that.
 */
export function dnsResolver(rt: Runtime, server: DnsServer, resolutionDelayMs = RESOLUTION_DELAY_MS): Resolver {
  const where = hostPort(server.address, server.port)
  const ask = (name: string, family: Family) => query(rt, server, name, family).catch((err: Error) => {
    throw new RelayError('E_RESOLVE', `${family === 6 ? 'AAAA' : 'A'} ${name} @${where}: ${err.message}`, { cause: err })
  })
  return async (name, family) => {
    const families: Family[] = family ? [family] : [6, 4]
    const results = await settleWithDelay(families.map((f) => ask(name, f)), families, resolutionDelayMs)
    const found = results.flatMap((r, i) => (r.status === 'fulfilled' ? r.value.map((address) => ({ address, family: families[i]! })) : []))
    if (found.length > 0) return found
    const reasons = results.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : undefined)).filter((m) => m !== undefined)
    throw new RelayError('E_RESOLVE', reasons.length ? reasons.join('; ') : `'${name}' has no ${family ? `IPv${family} ` : ''}address at ${where}`)
  }
}

type Settled = PromiseSettledResult<string[]>

/** Waits for every query, but no longer than the resolution delay after A once A has addresses. */
function settleWithDelay(queries: Promise<string[]>[], families: Family[], resolutionDelayMs: number): Promise<Settled[]> {
  const results: (Settled | undefined)[] = queries.map(() => undefined)
  return new Promise((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined
    const finish = () => {
      if (timer) clearTimeout(timer)
      resolve(results.map((r) => r ?? { status: 'rejected', reason: new Error('no answer within the resolution delay') }))
    }
    queries.forEach((q, i) => {
      q.then((value) => (results[i] = { status: 'fulfilled', value }), (reason) => (results[i] = { status: 'rejected', reason })).then(() => {
        if (results.every((r) => r !== undefined)) return finish()
        const r = results[i]!
        if (families[i] === 4 && r.status === 'fulfilled' && r.value.length > 0 && !timer) timer = setTimeout(finish, resolutionDelayMs)
      })
    })
  })
}

async function query(rt: Runtime, server: DnsServer, name: string, family: Family): Promise<string[]> {
  let answer: DnsAnswer | undefined
  for (let i = 0; i < UDP_TRIES && !answer; i++) answer = await overUdp(rt, server, name, family)
  if (!answer) throw new Error(`no reply within ${UDP_TRIES} × ${TRY_TIMEOUT_MS} ms`)
  if (answer.truncated) answer = await overTcp(rt, server, name, family)
  if (answer.rcode === 3) return []
  if (answer.rcode !== 0) throw new Error(`server answered RCODE ${answer.rcode}${answer.rcode === 2 ? ' (SERVFAIL)' : answer.rcode === 5 ? ' (REFUSED)' : ''}`)
  return answer.addresses
}

const randomId = () => crypto.getRandomValues(new Uint16Array(1))[0]!

/** One UDP exchange; undefined when no reply came in time. */
async function overUdp(rt: Runtime, server: DnsServer, name: string, family: Family): Promise<DnsAnswer | undefined> {
  const id = randomId()
  const q = encodeQuery(id, name, family)
  let done!: (a: DnsAnswer | undefined) => void
  let fail!: (e: Error) => void
  const result = new Promise<DnsAnswer | undefined>((resolve, reject) => {
    done = resolve
    fail = reject
  })
  const serverAddress = canonical(server.address)
  const socket = await rt.bindUdp({
    address: server.family === 6 ? '::' : '0.0.0.0',
    port: 0,
    family: server.family,
    onMessage(data, address, port) {
      if (port !== server.port || canonical(address) !== serverAddress) return
      try {
        const a = parseReply(data, id, name, family)
        if (a) done(a)
      } catch (err) {
        fail(err as Error)
      }
    },
    onError: (err) => fail(err),
  })
  const timer = setTimeout(() => done(undefined), TRY_TIMEOUT_MS)
  try {
    socket.send(q, server.port, server.address)
    return await result
  } finally {
    clearTimeout(timer)
    socket.close()
  }
}

/** One TCP exchange (RFC 7766: u16 length before each message). */
async function overTcp(rt: Runtime, server: DnsServer, name: string, family: Family): Promise<DnsAnswer> {
  const id = randomId()
  const q = encodeQuery(id, name, family)
  const signal = AbortSignal.timeout(TRY_TIMEOUT_MS)
  const conn: StreamConn = await rt.connectTcp({ address: server.address, port: server.port, signal })
  let buf = new Uint8Array(0)
  try {
    return await new Promise<DnsAnswer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no TCP reply within ${TRY_TIMEOUT_MS} ms`)), TRY_TIMEOUT_MS)
      const settle = (fn: () => void) => {
        clearTimeout(timer)
        fn()
      }
      conn.setHandlers({
        onData(chunk) {
          const next = new Uint8Array(buf.length + chunk.length)
          next.set(buf)
          next.set(chunk, buf.length)
          buf = next
          if (buf.length < 2) return
          const len = (buf[0]! << 8) | buf[1]!
          if (buf.length < 2 + len) return
          try {
            const a = parseReply(buf.subarray(2, 2 + len), id, name, family)
            settle(() => (a ? resolve(a) : reject(new Error('the TCP reply answers another question'))))
          } catch (err) {
            settle(() => reject(err as Error))
          }
        },
        onClose: (err) => settle(() => reject(err ?? new Error('the server closed the TCP connection without a reply'))),
      })
      const framed = new Uint8Array(2 + q.length)
      framed[0] = q.length >> 8
      framed[1] = q.length & 0xff
      framed.set(q, 2)
      conn.write(framed)
    })
  } finally {
    conn.destroy()
  }
}

/** An address in one spelling, so `::ffff:127.0.0.1`-style or zero-padded forms compare equal. */
function canonical(address: string): string {
  const bare = address.replace(/%.*$/, '')
  const v6 = parseIPv6(bare)
  if (v6.ok) return formatIPv6(v6.value)
  const v4 = parseIPv4(bare)
  return v4.ok ? v4.value.join('.') : bare
}

/**
 * A resolver answering from hosts-file text (`address name [alias ...]`, `#` comments), names
 * compared without case, addresses in file order. A name it lacks is an error, not a fallback.
 */
export function hostsResolver(text: string, source = 'the hosts file'): Resolver {
  const table = new Map<string, ResolvedAddress[]>()
  for (const line of text.split('\n')) {
    const [address, ...names] = line.replace(/#.*/, '').trim().split(/\s+/)
    if (!address || names.length === 0) continue
    const v4 = parseIPv4(address)
    const v6 = v4.ok ? undefined : parseIPv6(address.replace(/%.*$/, ''))
    if (!v4.ok && !v6?.ok) continue
    const entry: ResolvedAddress = { address, family: v4.ok ? 4 : 6 }
    for (const n of names) {
      const key = n.toLowerCase().replace(/\.$/, '')
      const list = table.get(key) ?? []
      if (!list.some((a) => a.address === address)) list.push(entry)
      table.set(key, list)
    }
  }
  return async (name, family) => {
    const found = (table.get(name.toLowerCase().replace(/\.$/, '')) ?? []).filter((a) => !family || a.family === family)
    if (found.length === 0) throw new RelayError('E_RESOLVE', `'${name}' has no ${family ? `IPv${family} ` : ''}address in ${source}`)
    return found
  }
}

/**
 * The resolver a half's `resolver` setting names: `system` (or nothing) keeps the runtime's
 * getaddrinfo, `host:port` asks that DNS server, a function is used as it is. `hosts:FILE` is
 * read by the CLI; a library passes hostsResolver(text).
 */
export function resolverFor(rt: Runtime, choice: string | Resolver | undefined): Resolver | undefined {
  if (choice === undefined || choice === 'system') return undefined
  if (typeof choice === 'function') return choice
  if (choice.startsWith('hosts:')) throw new RelayError('E_CONFIG', `resolver '${choice}': hosts files are read by the CLI; as a library, pass resolver: hostsResolver(text)`)
  return dnsResolver(rt, parseDnsServer(choice))
}
