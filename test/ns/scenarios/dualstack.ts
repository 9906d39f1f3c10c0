/**
 * Runs inside the dual-stack namespace of test/ns/dualstack.test.ts (see SETUP and HOSTS there):
 * racing (C), listening (S, P7, F1), UDP reply source and rescans (U) and multicast (MC), on the
 * runtime that runs this file. Prints `RESULT {json}`.
 */
import { parseConnector } from '../../../src/net/connector-string.ts'
import { ConnectRaceError, raceTcp, type RaceEvent } from '../../../src/net/dial.ts'
import { resolveConnect } from '../../../src/net/resolve.ts'
import { hostsResolver } from '../../../src/net/resolver.ts'
import type { HalfOptions } from '../../../mod.ts'
import { check, connectedRequest, defer, echoDevice, finish, half, request, rt, send, sh, ssCount, tcpConnects, waitFor, waitForLine } from './lib.ts'

const ep = (text: string) => parseConnector(text).endpoint!
const enc = new TextEncoder()
const dec = new TextDecoder()

/** A far half (tcp/server:*:0 → echo device) and a near half dialling it by `name`; `whileConnecting` runs beside the dial. */
async function tunnelTo(name: string, extra = '', whileConnecting?: () => Promise<unknown>) {
  const device = await echoDevice()
  const far = await half({ in: 'tcp/server:*:0', out: `udp/broadcast:127.0.0.1:${device.port}` })
  const port = far.inAddresses()[0]!.port
  const t0 = performance.now()
  const near = await half({ in: 'udp/listen:127.0.0.1:0', out: `tcp/client:${name}:${port}${extra}` })
  const beside = whileConnecting?.()
  await waitForLine(near.lines, /connected to /, { timeoutMs: 8000 })
  await beside
  const elapsed = Math.round(performance.now() - t0)
  const events = near.lines.filter((l) => / (attempt-start|attempt-fail|winner) /.test(l)).map((l) => l.replace(/^.*tcp\/client /, ''))
  return { device, far, near, port, elapsed, events }
}

// --- C: racing ---

await check('he-v6-dropped', async () => {
  const { near, port, elapsed, events } = await tunnelTo('dual.test')
  // C5: the losing IPv6 attempt is gone, one connection is up.
  const synSent = await ssCount('syn-sent')
  const established = await ssCount('established', port)
  const r = await request('127.0.0.1', near.inAddresses()[0]!.port, 'hi')
  return { elapsed, events, synSent, established, reply: r?.reply }
})

await check('he-v6-slow-v4-blackholed', async () => {
  // 2001:db8:1::5 swallows the first SYN, then becomes a local address: the SYN retransmitted at
  // ~1 s is answered. 192.0.2.1 is blackholed (EINVAL at once).
  defer(() => sh('ip', ['addr', 'del', '2001:db8:1::5/128', 'dev', 'lo']).catch(() => {}))
  const { elapsed, events } = await tunnelTo('slow6.test', '', async () => {
    await waitFor(async () => (await sh('ss', ['-Htn', 'state', 'syn-sent', 'dst', '[2001:db8:1::5]'])).trim(), 'the first SYN to 2001:db8:1::5', 3000, 5)
    await sh('ip', ['addr', 'add', '2001:db8:1::5/128', 'dev', 'lo'])
  })
  return { elapsed, events }
}, 10_000)

await check('he-all-fail', async () => {
  const text = 'tcp/client:fail.test:9'
  const addrs = await resolveConnect(rt, ep(text), text)
  const events: RaceEvent[] = []
  try {
    await raceTcp(rt, text, addrs, 9, { timeoutMs: 5000, signal: new AbortController().signal, onEvent: (e) => events.push(e) })
    return 'connected?'
  } catch (err) {
    const e = err as ConnectRaceError
    return {
      isAggregate: e instanceof AggregateError,
      isRaceError: e instanceof ConnectRaceError,
      code: e.code,
      message: e.message,
      errors: e.errors.map((x) => ({ address: x.address, errno: x.errno, phase: x.phase, startedMs: Math.round(x.startedMs) })),
      primary: e.primary?.address,
      started: events.filter((x) => x.type === 'attempt-start').map((x) => x.address),
    }
  }
})

await check('he-sourceport', async () => {
  // C9: the IPv4 attempt binds port 40000 while the silent IPv6 attempt still holds it.
  const device = await echoDevice()
  const far = await half({ in: 'tcp/server:*:0', out: `udp/broadcast:127.0.0.1:${device.port}` })
  const port = far.inAddresses()[0]!.port
  const addrs = await resolveConnect(rt, ep(`tcp/client:dual.test:${port}`), 'x')
  const conn = await raceTcp(rt, 'x', addrs, port, { timeoutMs: 5000, signal: new AbortController().signal, localPort: 40000 })
  defer(() => conn.destroy())
  return { local: conn.local, remote: conn.remote }
})

await check('he-abort', async () => {
  // C7: a race cancelled while both its attempts wait for an answer leaves no socket behind.
  const controller = new AbortController()
  const addrs = [{ address: '2001:db8:1::2', family: 6 as const }, { address: '2001:db8:1::3', family: 6 as const }]
  const racing = raceTcp(rt, 'x', addrs, 80, { timeoutMs: 5000, signal: controller.signal, race: { attemptDelayMs: 50 } }).then(() => 'connected?', (e) => (e as { code: string }).code)
  await waitFor(async () => (await ssCount('syn-sent')) === 2, 'both attempts to be under way', 3000, 5)
  controller.abort()
  const code = await racing
  await waitFor(async () => (await ssCount('syn-sent')) === 0, 'the attempts\' sockets to go', 2000, 5).catch(() => {})
  return { code, synSent: await ssCount('syn-sent') }
})

// --- S, P7, F1: listeners ---

async function listenCheck(connector: string, family?: 4 | 6) {
  const device = await echoDevice()
  const h = await half({ in: connector, out: `udp/broadcast:127.0.0.1:${device.port}`, family })
  const addresses = h.inAddresses()
  const port = addresses[0]!.port
  return { addresses: addresses.map((a) => `${a.address}:${a.port}`), v4: await tcpConnects('127.0.0.1', port), v6: await tcpConnects('::1', port), warnings: h.lines.filter((l) => / W_/.test(l)) }
}

await check('tcp-star', () => listenCheck('tcp/server:*:0'))
await check('tcp-star-bindv6only', async () => {
  await sh('sh', ['-c', 'echo 1 > /proc/sys/net/ipv6/bindv6only'])
  defer(() => sh('sh', ['-c', 'echo 0 > /proc/sys/net/ipv6/bindv6only']))
  return listenCheck('tcp/server:*:0')
})
await check('tcp-v6-any', () => listenCheck('tcp/server:[::]:0'))
await check('tcp-star-ipv4', () => listenCheck('tcp/server:*:0', 4))
await check('tcp-name', () => listenCheck('tcp/server:svc.test:0'))

await check('tcp-all-or-nothing', async () => {
  // S5: [::1]:p is taken, so svc.test:p (127.0.0.1 and ::1) must fail and leave 127.0.0.1:p free.
  const blocker = await rt.listenTcp({ address: '::1', port: 0, family: 6, ipv6Only: true, onConnection: (c) => c.destroy() })
  defer(() => blocker.close())
  const port = blocker.local.port
  const error = await half({ in: `tcp/server:svc.test:${port}`, out: 'udp/broadcast:127.0.0.1:9' }).then(() => undefined, (e) => ({ code: (e as { code: string }).code, message: (e as Error).message }))
  const probe = await rt.listenTcp({ address: '127.0.0.1', port, family: 4, onConnection: (c) => c.destroy() }).then((l) => (l.close(), 'free'), (e) => (e as { code: string }).code)
  return { error, probe }
})

await check('dual-stack-socket', async () => {
  // P7, S7, U8: ,ipv6only=0 asks for one dual-stack [::] socket; IPv4 peers are named as IPv4.
  const device = await echoDevice()
  const tcp = await half({ in: 'tcp/server:[::]:0,ipv6only=0', out: `udp/broadcast:127.0.0.1:${device.port}` })
  const star = await half({ in: 'tcp/server:*:0,ipv6only=0', out: `udp/broadcast:127.0.0.1:${device.port}` })
  const udp = await half({ in: 'udp/listen:[::]:0,ipv6only=0', out: `udp/broadcast:127.0.0.1:${device.port}` })
  const near = await half({ in: 'udp/listen:127.0.0.1:0', out: `tcp/client:127.0.0.1:${tcp.inAddresses()[0]!.port}` })
  const peerLine = await waitForLine(tcp.lines, /peer .* connected/)
  return {
    tcpV4: await tcpConnects('127.0.0.1', tcp.inAddresses()[0]!.port),
    peerLine: peerLine.replace(/^.*peer/, 'peer'),
    starAddresses: star.inAddresses().map((a) => a.address),
    udpReply: await connectedRequest('127.0.0.1', udp.inAddresses()[0]!.port, 'mapped'),
    udpFlow: udp.lines.find((l) => /new flow/.test(l))?.replace(/^.*new flow/, 'new flow'),
    nearUp: near.lines.some((l) => /connected to/.test(l)),
  }
})

await check('tcp-link-local', async () => {
  // P4: a zoned link-local remote connects (the zone picks the link).
  const v1 = rt.networkInterfaces!().find((a) => a.name === 'v1' && a.address.startsWith('fe80'))!.address
  const far = await half({ in: 'tcp/server:*:0', out: 'udp/event:127.0.0.1:9' })
  const port = far.inAddresses()[0]!.port
  return raceTcp(rt, 'x', [{ address: `${v1}%v1`, family: 6 }], port, { timeoutMs: 3000, signal: new AbortController().signal }).then(
    (c) => (c.destroy(), { remote: c.remote.address }),
    (e: ConnectRaceError) => ({ errno: e.errors[0]?.errno, message: e.message }),
  )
})

await check('tcp-udp-same-port', async () => {
  // S6: a tcp and a udp listener on the same port run side by side.
  const device = await echoDevice()
  const tcp = await half({ in: 'tcp/server:*:47300', out: `udp/broadcast:127.0.0.1:${device.port}` })
  const udp = await half({ in: 'udp/listen:*:47300', out: `udp/broadcast:127.0.0.1:${device.port}` })
  return { tcp: await tcpConnects('::1', 47300), udp: await connectedRequest('::1', 47300, 'same port'), ports: [tcp.inAddresses()[0]!.port, udp.inAddresses()[0]!.port] }
})

await check('c9-iface', async () => {
  // C9: tls/, ws/ and grpc/client with the ::v1: prefix dial from v1's address (10.9.0.2); without
  // it the kernel picks 10.9.0.1, the server's own address, as the source.
  const { testCerts } = await import('../../helpers/certs.ts')
  const certs = testCerts().pem
  const device = await echoDevice()
  const out: Record<string, unknown> = {}
  for (const [kind, server, client] of [
    ['tls', 'tls/server:10.9.0.1:0', (p: number) => `tls/client::v1:10.9.0.1:${p},sni=localhost`],
    ['ws', 'ws/server:10.9.0.1:0/t', (p: number) => `ws/client::v1:ws://10.9.0.1:${p}/t`],
    ['grpc', 'grpc/server:10.9.0.1:0', (p: number) => `grpc/client::v1:10.9.0.1:${p}`],
    ['ws-without', 'ws/server:10.9.0.1:0/t', (p: number) => `ws/client:ws://10.9.0.1:${p}/t`],
  ] as const) {
    // Certificates for tls/ only: with them ws/ and grpc/ servers would speak TLS too.
    const far = await half({ in: server, out: `udp/broadcast:127.0.0.1:${device.port}`, ...(kind === 'tls' ? { tls: { cert: certs.serverCert, key: certs.serverKey } } : {}) })
    const near = await half({ in: 'udp/listen:127.0.0.1:0', out: client(far.inAddresses()[0]!.port), tls: { caCert: certs.ca } })
    await waitForLine(far.lines, /peer \S+ connected/, { timeoutMs: 5000 }).catch((err) => {
      throw new Error(`${kind}: ${err.message}\n${[...far.lines, ...near.lines].join('\n')}`)
    })
    const r = await request('127.0.0.1', near.inAddresses()[0]!.port, kind)
    out[kind] = { peer: /peer (\S+) connected/.exec(far.lines.find((l) => /peer \S+ connected/.test(l))!)![1], reply: r?.reply }
  }
  return out
}, 25_000)

// --- U: UDP reply source ---

await check('udp-star', async () => {
  const device = await echoDevice()
  const h = await half({ in: 'udp/listen:*:0', out: `udp/broadcast:127.0.0.1:${device.port}` })
  const port = h.inAddresses()[0]!.port
  const out: Record<string, unknown> = { addresses: h.inAddresses().map((a) => a.address), ports: [...new Set(h.inAddresses().map((a) => a.port))] }
  for (const a of ['127.0.0.2', '127.0.0.1', '10.9.0.2', '::1', '2001:db8:1::1']) out[a] = await connectedRequest(a, port, `to ${a}`)
  return out
})

await check('udp-wildcard', async () => {
  const device = await echoDevice()
  const h = await half({ in: 'udp/listen:*:0,wildcard', out: `udp/broadcast:127.0.0.1:${device.port}` })
  const port = h.inAddresses()[0]!.port
  // The connect()ed client's window comes first and is given time: an unconnected request sent
  // right after a reply bounced off it loses its own reply on Bun (a bug, reported separately).
  return {
    warnings: h.lines.filter((l) => / W_/.test(l)),
    connected: await connectedRequest('127.0.0.2', port, 'w1', 500),
    unconnected: await request('127.0.0.2', port, 'w2', 1000),
  }
})

await check('udp-rescan', async () => {
  const device = await echoDevice()
  const h = await half({ in: 'udp/listen:*:0,rescan=200ms', out: `udp/broadcast:127.0.0.1:${device.port}` })
  const port = h.inAddresses()[0]!.port
  // Periodic rescan picks up a new address.
  await sh('ip', ['addr', 'add', '10.9.0.3/24', 'dev', 'v0'])
  defer(() => sh('ip', ['addr', 'del', '10.9.0.3/24', 'dev', 'v0']).catch(() => {}))
  await waitFor(() => h.inAddresses().some((a) => a.address === '10.9.0.3'), 'the periodic rescan to bind 10.9.0.3', 2000)
  const periodic = await connectedRequest('10.9.0.3', port, 'new')
  // On-demand rescan (SIGHUP in the CLI) picks up another one at once.
  await sh('ip', ['addr', 'add', '10.9.0.4/24', 'dev', 'v0'])
  defer(() => sh('ip', ['addr', 'del', '10.9.0.4/24', 'dev', 'v0']).catch(() => {}))
  await h.rescan()
  const onDemand = await connectedRequest('10.9.0.4', port, 'now')
  // A vanished address closes its socket and drops its flows.
  await sh('ip', ['addr', 'del', '10.9.0.3/24', 'dev', 'v0'])
  await h.rescan()
  return { periodic, onDemand, addresses: h.inAddresses().map((a) => a.address), lost: h.stats.get('udp.sessions_lost'), lines: h.lines.filter((l) => /session-lost|gone/.test(l)) }
})

// --- U6: udp/client tries a name's addresses in turn while none answers ---

/** A request through udp/listen → `out`, timed until its reply; plus the udp/client log lines. */
async function timedRequest(out: string, resolver?: HalfOptions['resolver']) {
  const near = await half({ in: 'udp/listen:127.0.0.1:0', out, resolver })
  const t0 = performance.now()
  const r = await request('127.0.0.1', near.inAddresses()[0]!.port, 'race', 4000)
  return { elapsed: Math.round(performance.now() - t0), reply: r?.reply, lines: near.lines.filter((l) => /answered|trying|cannot open/.test(l)).map((l) => l.replace(/^.*udp\/client /, '')) }
}

await check('udpc-silent', async () => {
  // dual.test: 2001:db8:1::2 swallows everything, 10.9.0.1 answers.
  const device = await echoDevice('10.9.0.1', 47400)
  return { ...(await timedRequest(`udp/client:dual.test:${device.port},attempt-delay=300`)), device: device.got }
})

await check('udpc-unreachable', async () => {
  // 2001:db8:4::1 has an unreachable route (an error at once), 10.9.0.1 answers. getaddrinfo
  // would sort the unreachable address last (RFC 6724 rule 1), so a hosts resolver keeps it first.
  const device = await echoDevice('10.9.0.1', 47401)
  return timedRequest(`udp/client:unreach.test:${device.port},attempt-delay=2000`, hostsResolver('2001:db8:4::1 unreach.test\n10.9.0.1 unreach.test\n'))
})

await check('udpc-blackhole', async () => {
  // 2001:db8:3::1 is blackholed (an error at once), then 127.0.0.1 answers (in this order, as above).
  const device = await echoDevice('127.0.0.1', 47402)
  return timedRequest(`udp/client:fail.test:${device.port},attempt-delay=2000`, hostsResolver('2001:db8:3::1 fail.test\n127.0.0.1 fail.test\n'))
})

// --- U7: udp/p2p binds the families the peer has ---

/** Site far (udp/p2p → echo device) and site near (udp/listen → udp/p2p), one request across. */
async function p2pSites(farIn: string, nearOut: string) {
  const device = await echoDevice()
  const far = await half({ in: farIn, out: `udp/broadcast:127.0.0.1:${device.port}` })
  const near = await half({ in: 'udp/listen:127.0.0.1:0', out: nearOut })
  const r = await request('127.0.0.1', near.inAddresses()[0]!.port, 'p2p', 3000)
  const shown = (h: typeof far) => h.lines.filter((l) => / W_|sending to|listening for/.test(l)).map((l) => l.replace(/^.*udp\/p2p /, ''))
  return {
    reply: r?.reply,
    far: far.inAddresses().map((a) => a.address),
    near: near.outAddresses().map((a) => a.address),
    farLines: shown(far),
    nearLines: shown(near),
  }
}

await check('p2p-star-dual', () => p2pSites('udp/p2p:*:47200,peer=svc.test:47201', 'udp/p2p:*:47201,peer=svc.test:47200'))
await check('p2p-star-v4peer', () => p2pSites('udp/p2p:127.0.0.1:47203,peer=127.0.0.1:47202', 'udp/p2p:*:47202,peer=127.0.0.1:47203'))
await check('p2p-star-v6peer', () => p2pSites('udp/p2p:[::1]:47205,peer=[::1]:47204', 'udp/p2p:*:47204,peer=six.test:47205'))
await check('p2p-v4-dual-peer', () => p2pSites('udp/p2p:127.0.0.1:47207,peer=127.0.0.1:47206', 'udp/p2p:0.0.0.0:47206,peer=svc.test:47207'))

await check('p2p-v4-v6peer', async () => {
  const refusal = (out: string) => half({ in: 'udp/listen:127.0.0.1:0', out }).then(() => 'started?', (e) => ({ code: (e as { code: string }).code, message: (e as Error).message }))
  const name = await refusal('udp/p2p:10.9.0.1:47208,peer=six.test:47209')
  const literal = await refusal('udp/p2p:0.0.0.0:47208,peer=[2001:db8:1::2]:47209')
  // Nothing stayed bound: the port is free.
  const probe = await rt.bindUdp({ address: '10.9.0.1', port: 47208, family: 4, onMessage: () => {} }).then((s) => (s.close(), 'free'), (e) => (e as { code: string }).code)
  return { name, literal, probe }
})

// --- MC: multicast over the veth pair (join on v1, send from v0) ---

async function mcSender(family: 4 | 6, loopback = false) {
  const got: string[] = []
  const s = await rt.bindMulticast!({
    address: family === 6 ? '::' : '0.0.0.0',
    port: 0,
    family,
    iface: { name: 'v0', index: rt.interfaceIndex!('v0')!, ipv4: '10.9.0.1' },
    send: { ttl: 1, loopback },
    onMessage: (d) => got.push(dec.decode(d)),
  })
  defer(() => s.close())
  return { s, got }
}

async function mcReceiver(group: string, port: number, iface: string) {
  const got: string[] = []
  const family = group.includes(':') ? 6 : 4
  const s = await rt.bindMulticast!({
    address: family === 6 ? '::' : '0.0.0.0',
    port,
    family,
    ipv6Only: family === 6,
    reuseAddr: true,
    iface: { name: iface, index: rt.interfaceIndex!(iface)!, ipv4: iface === 'v0' ? '10.9.0.1' : '10.9.0.2' },
    join: [{ group }],
    onMessage: (d) => got.push(dec.decode(d)),
  })
  defer(() => s.close())
  return { s, got }
}

async function mcIn(group: string, port: number) {
  const device = await echoDevice()
  const literal = group.includes(':') ? `[${group}]` : group
  const a = await half({ in: `udp/listen::v1:${literal}:${port}`, out: `udp/broadcast:127.0.0.1:${device.port}` })
  const b = await half({ in: `udp/listen:${literal}:${port},iface=v1`, out: `udp/broadcast:127.0.0.1:${device.port}` })
  const sender = await mcSender(group.includes(':') ? 6 : 4)
  sender.s.send(enc.encode('m1'), port, group)
  await waitFor(() => device.got.length >= 2 && sender.got.length >= 2, 'm1 relayed by both halves and both replies back', 3000)
  const afterSend = { device: [...device.got], replies: [...sender.got] }
  await a.close()
  await b.close()
  // The positive control: a half still joined, relaying to a device of its own, gets m2.
  const control = await echoDevice()
  await half({ in: `udp/listen::v1:${literal}:${port}`, out: `udp/broadcast:127.0.0.1:${control.port}` })
  sender.s.send(enc.encode('m2'), port, group)
  await waitFor(() => control.got.includes('m2'), 'm2 relayed by the half still joined', 3000)
  return { ...afterSend, afterLeave: device.got.filter((x) => x === 'm2').length, joined: a.lines.filter((l) => /joined/.test(l)) }
}

await check('mc4-in', () => mcIn('239.1.2.3', 47001))
await check('mc6-in', () => mcIn('ff15::1234', 47002))

/**
 * MC4. Linux hands a datagram that reached a group the interface joined to every socket bound to
 * its port (IP_MULTICAST_ALL, on by default, and no runtime can turn it off), whatever groups
 * that socket joined. So the loopback checks use a group and port nobody joined on v1: there
 * the receiver on v0, the sender's own interface, can only get a looped-back copy.
 */
async function mcOut(group: string, loopGroup: string, port: number, connector: (group: string, port: number) => string) {
  const onV1 = await mcReceiver(group, port, 'v1')
  const onV0 = await mcReceiver(loopGroup, port + 1, 'v0')
  const sent = (h: { stats: { get(name: string): number } }) => h.stats.get('udp.sent.event') + h.stats.get('udp.sent.request')
  const toV1 = await half({ in: 'udp/listen:127.0.0.1:0', out: connector(group, port) })
  await send('127.0.0.1', toV1.inAddresses()[0]!.port, 'over the link')
  await waitFor(() => onV1.got.includes('over the link'), 'the datagram over the link', 3000)
  // 'loopback off' has left before 'loopback on' is sent: a looped-back copy of it would reach
  // the receiver on v0 first.
  const quiet = await half({ in: 'udp/listen:127.0.0.1:0', out: connector(loopGroup, port + 1) })
  await send('127.0.0.1', quiet.inAddresses()[0]!.port, 'loopback off')
  await waitFor(() => sent(quiet) === 1, 'the quiet half to send to the group', 3000)
  const loud = await half({ in: 'udp/listen:127.0.0.1:0', out: `${connector(loopGroup, port + 1)},loopback` })
  await send('127.0.0.1', loud.inAddresses()[0]!.port, 'loopback on')
  await waitFor(() => onV0.got.includes('loopback on'), 'the looped-back datagram', 3000)
  return { v1: onV1.got, v0: onV0.got, log: [...toV1.lines, ...quiet.lines, ...loud.lines].filter((l) => /sending/.test(l)) }
}

await check('mc4-out', () => mcOut('239.1.2.4', '239.1.2.5', 47010, (g, p) => `udp/event::v0:${g}:${p}`))
await check('mc6-out', () => mcOut('ff15::4321', 'ff15::4322', 47020, (g, p) => `udp/broadcast::v0:[${g}]:${p},ttl=2`))

await check('mc4-ssm', async () => {
  // MC6: a source-specific join hears only its source (the sender's v0 address is 10.9.0.1).
  const device = await echoDevice()
  const good = await half({ in: 'udp/listen::v1:232.1.1.1:47030,source=10.9.0.1', out: `udp/broadcast:127.0.0.1:${device.port}` })
  const other = await half({ in: 'udp/listen::v1:232.1.1.1:47031,source=10.9.0.99', out: `udp/broadcast:127.0.0.1:${device.port}` })
  const sender = await mcSender(4)
  // The other source first; the good one, sent after it, is the positive control.
  sender.s.send(enc.encode('other'), 47031, '232.1.1.1')
  sender.s.send(enc.encode('good'), 47030, '232.1.1.1')
  await waitFor(() => device.got.includes('good'), 'the datagram from the joined source', 3000)
  return { device: device.got, otherHeard: other.stats.get('udp.requests'), joined: [...good.lines, ...other.lines].filter((l) => /joined/.test(l)) }
})

finish()
