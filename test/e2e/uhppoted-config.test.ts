/**
 * uhppoted-tunnel's own example TOML (test/fixtures/uhppoted-tunnel/, addresses moved to
 * loopback), run section by section through the CLI as a uhppoted-tunnel user would, with no key
 * added: each pair relays a UHPPOTE get-time to a controller stand-in and back. With no
 * uhppoted-tunnel binary to install here, its side of the wire is played byte for byte
 * (`00 40 00 00 00 01 17 32 ...`, u16 length, u32 id, the datagram).
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import net from 'node:net'
import tls from 'node:tls'
import { join } from 'node:path'
import { test, waitFor } from '../harness.ts'
import { cleanExit, startProcess } from '../helpers/processes.ts'
import { udpPeer } from '../helpers/udp.ts'
import { cliElsewhere, materialize, tcpController, udpController, uhppotedFrame, uhppoteReply, uhppoteRequest } from '../helpers/uhppoted.ts'

const SERIAL = 405419896
const GET_TIME = uhppoteRequest(0x32, SERIAL)

/** Sends a get-time to a udp/listen half and returns the reply. */
async function ask(t: Parameters<typeof udpPeer>[0], port: number, request = GET_TIME): Promise<Uint8Array> {
  const client = await udpPeer(t)
  client.send(request, port)
  await client.waitCount(1)
  return Uint8Array.from(client.received[0]!.data)
}

/** Starts `listening` (waiting for `ready`), then `dialling` (until connected), from the example file in its folder. */
async function pair(t: Parameters<typeof udpPeer>[0], m: Awaited<ReturnType<typeof materialize>>, listening: string, ready: RegExp, dialling: string) {
  const cli = cliElsewhere(t.runtime)
  const first = startProcess(t, [...cli, '--config', `${m.file}#${listening}`], { cwd: m.dir })
  await first.waitFor(ready)
  const second = startProcess(t, [...cli, '--config', `${m.file}#${dialling}`], { cwd: m.dir })
  await second.waitFor(/connected to/)
  return { first, second }
}

test('[host] + [client] of the example file: no codec named, so the client speaks uhppoted framing to the auto server; a get-time goes through', async (t) => {
  const m = await materialize('uhppoted-tunnel.toml')
  await udpController(t, '127.0.0.1', m.port(60005), 0xaa)
  const { first: host, second: client } = await pair(t, m, 'host', /tcp\/server listening on/, 'client')
  assert.match(client.output(), /\[client\]: no codec named: using --codec uhppoted/)
  assert.doesNotMatch(host.output(), /no codec named/, 'a server keeps codec auto, which serves both')
  assert.match(host.output(), /\[host\]: lockfile .*uhppoted-tunnel-[0-9a-f]{40}\.pid/)
  assert.deepEqual(await ask(t, m.port(60000)), uhppoteReply(GET_TIME, 0xaa))
  assert.ok(cleanExit(await client.stop(), client.output(), t.runtime), client.output())
  assert.ok(cleanExit(await host.stop(), host.output(), t.runtime), host.output())
}, { timeout: 30_000 })

test('[host] against a uhppoted-tunnel client: the request arrives framed byte for byte, the framed reply comes back', async (t) => {
  const cli = cliElsewhere(t.runtime)
  const m = await materialize('uhppoted-tunnel.toml')
  const host = startProcess(t, [...cli, '--config', `${m.file}#host`], { cwd: m.dir })
  await host.waitFor(/tcp\/server listening on/)
  // uhppoted-tunnel's tcp/client, played by a raw socket.
  const peer = net.connect({ port: m.port(12345), host: '127.0.0.1' })
  t.defer(() => peer.destroy())
  let got = new Uint8Array(0)
  peer.on('data', (d: Buffer) => (got = Uint8Array.from([...got, ...d])))
  await new Promise((r) => peer.once('connect', r))
  await host.waitFor(/tcp\/server peer 127\.0\.0\.1:\d+ connected/)
  const client = await udpPeer(t)
  client.send(GET_TIME, m.port(60000))
  await waitFor(() => got.length >= 70, 'one frame: 6 header bytes and the 64-byte request')
  assert.equal(got.length, 70)
  assert.deepEqual([...got.subarray(0, 2)], [0x00, 0x40])
  assert.deepEqual(got.subarray(6), GET_TIME)
  const id = new DataView(got.buffer, got.byteOffset).getUint32(2)
  peer.write(uhppotedFrame(id, uhppoteReply(GET_TIME, 0xbb)))
  await client.waitCount(1)
  assert.deepEqual(Uint8Array.from(client.received[0]!.data), uhppoteReply(GET_TIME, 0xbb))
}, { timeout: 30_000 })

test('[client] against a uhppoted-tunnel host: `00 40 00 00 00 01 17 32 ...` reaches the controller, the reply returns as id 1', async (t) => {
  const cli = cliElsewhere(t.runtime)
  const m = await materialize('uhppoted-tunnel.toml')
  const controller = await udpController(t, '127.0.0.1', m.port(60005), 0xcc)
  // uhppoted-tunnel's tcp/server, played by a raw socket: it sends a captured get-time frame.
  let got = new Uint8Array(0)
  const server = net.createServer((sock) => {
    t.defer(() => sock.destroy())
    sock.on('data', (d: Buffer) => (got = Uint8Array.from([...got, ...d])))
    sock.write(Uint8Array.from([0x00, 0x40, 0x00, 0x00, 0x00, 0x01, ...GET_TIME]))
  })
  await new Promise<void>((r) => server.listen(m.port(12345), '127.0.0.1', () => r()))
  t.defer(() => new Promise<void>((r) => server.close(() => r())))
  const client = startProcess(t, [...cli, '--config', `${m.file}#client`], { cwd: m.dir })
  await controller.waitCount(1, 10_000)
  assert.deepEqual(controller.received[0], GET_TIME)
  await waitFor(() => got.length >= 70, 'the framed reply')
  assert.deepEqual(got, uhppotedFrame(1, uhppoteReply(GET_TIME, 0xcc)))
  assert.ok(cleanExit(await client.stop(), client.output(), t.runtime), client.output())
}, { timeout: 30_000 })

test('[reverse-host] + [reverse-client]: the far half dials out; a get-time goes through', async (t) => {
  const m = await materialize('uhppoted-tunnel.toml')
  await udpController(t, '127.0.0.1', m.port(60005), 0x11)
  await pair(t, m, 'reverse-client', /tcp\/server listening on/, 'reverse-host')
  assert.deepEqual(await ask(t, m.port(60000)), uhppoteReply(GET_TIME, 0x11))
}, { timeout: 30_000 })

test('[tls-host] + [tls-client]: mutual TLS from ./ca.cert and friends, client-auth = "required" read as true', async (t) => {
  const m = await materialize('uhppoted-tunnel.toml')
  await udpController(t, '127.0.0.1', m.port(60005), 0x22)
  const { first: host } = await pair(t, m, 'tls-host', /tls\/server listening on/, 'tls-client')
  assert.match(host.output(), /client-auth = "required" read as true/)
  assert.deepEqual(await ask(t, m.port(60000)), uhppoteReply(GET_TIME, 0x22))
  // A client without a certificate is refused: "required" was not read as false.
  const bare = tls.connect({ port: m.port(12345), host: '127.0.0.1', ca: readFileSync(join(m.dir, 'ca.cert')), servername: 'localhost' })
  t.defer(() => bare.destroy())
  bare.on('error', () => {})
  await new Promise((r) => bare.once('close', r))
  await host.waitFor(/no client certificate|certificate/i)
}, { timeout: 30_000 })

test('[debug] (with [host]): --debug hex dumps of each packet with flow and direction; remove-lockfile removes it at exit', async (t) => {
  const m = await materialize('uhppoted-tunnel.toml')
  await udpController(t, '127.0.0.1', m.port(60005), 0x33)
  const { first: host, second: debug } = await pair(t, m, 'host', /tcp\/server listening on/, 'debug')
  const lockfile = /\[debug\]: lockfile (\S+)/.exec(debug.output())![1]!
  assert.deepEqual(await ask(t, m.port(60000)), uhppoteReply(GET_TIME, 0x33))
  await debug.waitFor(/<- reply/)
  assert.match(debug.output(), /-> request \d+ \(64 bytes\)\n {4}00000000 {2}17 32 00 00 78 37 2a 18 {2}00 00 00 00 00 00 00 00 {2}\|\.2\.\.x7\*\.+\|/)
  assert.match(debug.output(), /<- reply \d+ \(64 bytes\)\n {4}00000000 {2}17 32 00 00 78 37 2a 18 {2}33 00/)
  const hostLock = /\[host\]: lockfile (\S+)/.exec(host.output())![1]!
  assert.ok(existsSync(lockfile))
  assert.ok(cleanExit(await debug.stop(), debug.output(), t.runtime), debug.output())
  assert.ok(cleanExit(await host.stop(), host.output(), t.runtime), host.output())
  assert.equal(existsSync(lockfile), false, 'remove-lockfile = true: removed')
  assert.equal(readFileSync(hostLock, 'utf8'), '', 'without remove-lockfile: kept, emptied (no PID claims it)')
}, { timeout: 30_000 })

test('[http] and [https]: udp.js requests through the example sections; https takes ./server.cert and ./server.key and says so', async (t) => {
  const cli = cliElsewhere(t.runtime)
  const m = await materialize('uhppoted-tunnel.toml')
  await udpController(t, '127.0.0.1', m.port(60005), 0x44)
  const http = startProcess(t, [...cli, '--config', `${m.file}#http`], { cwd: m.dir })
  await http.waitFor(/http listening on/)
  const page = await fetch(`http://127.0.0.1:${m.port(8082)}/`)
  assert.equal(await page.text(), '<title>uhppoted-tunnel</title>')
  const res = await fetch(`http://127.0.0.1:${m.port(8082)}/udp/send`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ ID: 1, wait: true, request: [...GET_TIME] }) })
  assert.deepEqual(await res.json(), { ID: 1, reply: [...uhppoteReply(GET_TIME, 0x44)] })
  const https = startProcess(t, [...cli, '--config', `${m.file}#https`], { cwd: m.dir })
  await https.waitFor(/https listening on/)
  assert.match(https.output(), /\[https\]: using --ca-cert \.\/ca\.cert, --cert \.\/server\.cert, --key \.\/server\.key/)
  // udp.js's broadcast() through https, checked against ./ca.cert.
  const body = JSON.stringify({ ID: 2, wait: '500ms', request: [...GET_TIME] })
  const answer = await new Promise<string>((resolve, reject) => {
    const sock = tls.connect({ port: m.port(8443), host: '127.0.0.1', ca: readFileSync(join(m.dir, 'ca.cert')), servername: 'localhost' }, () => {
      sock.write(`POST /udp/broadcast HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`)
    })
    let text = ''
    sock.on('data', (d: Buffer) => (text += d.toString()))
    sock.on('end', () => resolve(text))
    sock.on('error', reject)
    t.defer(() => sock.destroy())
  })
  assert.match(answer, /^HTTP\/1\.1 200/)
  const json = JSON.parse(answer.slice(answer.indexOf('{'), answer.lastIndexOf('}') + 1)) as { ID: number; replies: number[][] }
  assert.deepEqual(json, { ID: 2, replies: [[...uhppoteReply(GET_TIME, 0x44)]] })
}, { timeout: 30_000 })

test('[ip] from the documented config: controllers by serial over UDP and TCP, others broadcast; interfaces bind in to lo', async (t) => {
  const cli = cliElsewhere(t.runtime)
  const m = await materialize('documented-sections.toml')
  const port = m.port(60005)
  const broadcastDevice = await udpController(t, '127.0.0.1', port, 0x01)
  const udpDirect = await udpController(t, '127.0.0.2', port, 0x02)
  const tcpDirect = await tcpController(t, '127.0.0.3', port, 0x03)
  const half = startProcess(t, [...cli, '--config', `${m.file}#ip`], { cwd: m.dir })
  await half.waitFor(/udp\/listen.*listening/)
  assert.match(half.output(), /controller 405419896: udp 127\.0\.0\.2:\d+/)
  assert.match(half.output(), /controller 303986753: tcp 127\.0\.0\.3:\d+/)
  assert.match(half.output(), /rate limit: 1 packets\/s, burst 120/)
  const viaUdp = uhppoteRequest(0x20, 405419896)
  const viaTcp = uhppoteRequest(0x20, 303986753)
  const other = uhppoteRequest(0x20, 423187757)
  assert.deepEqual(await ask(t, m.port(60000), viaUdp), uhppoteReply(viaUdp, 0x02))
  assert.deepEqual(await ask(t, m.port(60000), viaTcp), uhppoteReply(viaTcp, 0x03))
  assert.deepEqual(await ask(t, m.port(60000), other), uhppoteReply(other, 0x01))
  // Each controller saw only its own request.
  assert.deepEqual([broadcastDevice.received.length, udpDirect.received.length, tcpDirect.received.length], [1, 1, 1])
}, { timeout: 30_000 })
