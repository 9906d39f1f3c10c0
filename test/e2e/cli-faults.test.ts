import assert from 'node:assert/strict'
import dgram from 'node:dgram'
import net from 'node:net'
import { test, waitFor, type TestContext } from '../harness.ts'
import { testCerts } from '../helpers/certs.ts'
import { CLI, ownLockfile, startProcess, type Proc } from '../helpers/processes.ts'
import { echoDevice, text, udpPeer, type UdpPeer } from '../helpers/udp.ts'
import { withFreePorts } from '../helpers/with-free-ports.ts'

// Faults with the real CLI on this runtime: SIGKILL a half during traffic and start it again,
// for a forward TLS tunnel and a reverse TCP tunnel; SIGINT/SIGTERM shut a half down cleanly.

const count = (p: Proc, re: RegExp) => p.output().split('\n').filter((l) => re.test(l)).length

/** Sends a numbered request every `everyMs` (a steady load, on a timer) until stopped; remembers which were answered. */
function traffic(client: UdpPeer, port: number, everyMs = 40) {
  let n = 0
  const answered = () => new Set(client.received.map((r) => text(r.data)).filter((s) => s.startsWith('reply0:req')).map((s) => Number(s.slice(10))))
  const timer = setInterval(() => client.send(`req${n++}`, port), everyMs)
  return {
    sent: () => n,
    answered,
    /** Waits until a request sent from now on is answered. */
    async resumes(what: string, timeoutMs = 8000) {
      const from = n
      await waitFor(() => [...answered()].some((i) => i >= from), what, timeoutMs)
    },
    stop() {
      clearInterval(timer)
    },
  }
}

function tlsFiles() {
  const f = testCerts().files
  return {
    server: ['--cert', f.serverCert, '--key', f.serverKey],
    client: ['--ca-cert', f.ca],
    mtlsServer: ['--cert', f.serverCert, '--key', f.serverKey, '--ca-cert', f.ca, '--client-auth'],
    mtlsClient: ['--ca-cert', f.ca, '--cert', f.clientCert, '--key', f.clientKey],
    rogueClient: ['--ca-cert', f.ca, '--cert', f.rogueCert, '--key', f.rogueKey],
  }
}

test('SIGKILL the far half of a mutual-TLS tunnel during traffic and start it again: the near half reconnects by itself', async (t) => {
  const cli = CLI[t.runtime]
  const tls = tlsFiles()
  const device = await echoDevice(t)
  const { far, near, farArgs, tunnelPort, nearPort } = await withFreePorts(t, 2, async ([tunnelPort, nearPort], t) => {
    const farArgs = [...cli, '--in', `tls/server:127.0.0.1:${tunnelPort}`, '--out', `udp/broadcast:127.0.0.1:${device.port}`, ...tls.mtlsServer]
    const far = startProcess(t, farArgs)
    await far.waitFor(/listening on/)
    const near = startProcess(t, [...cli, '--in', `udp/listen:127.0.0.1:${nearPort}`, '--out', `tls/client:127.0.0.1:${tunnelPort}`, ...tls.mtlsClient, '--max-retry-delay', '400ms'])
    await near.waitFor(/connected to/)
    return { far, near, farArgs, tunnelPort: tunnelPort!, nearPort: nearPort! }
  })
  const client = await udpPeer(t)
  const load = traffic(client, nearPort)
  t.defer(() => load.stop())
  await load.resumes('traffic through the first far half')

  await far.stop('SIGKILL')
  await near.waitFor(/connection to 127\.0\.0\.1:\d+ lost/)
  // The near half has found the far half gone (a reconnect refused) while requests keep coming.
  await waitFor(() => count(near, /cannot connect/) >= 1, 'a refused reconnect')
  const far2 = startProcess(t, [...farArgs, ...ownLockfile(t)])
  await far2.waitFor(/listening on/)
  await waitFor(() => count(near, /connected to/) === 2, 'the near half to reconnect by itself', 8000)
  await load.resumes('traffic through the restarted far half')
  load.stop()
  // Requests sent while the far half was down waited in the queue and were answered after.
  assert.ok(load.answered().size >= load.sent() - 10, `answered ${load.answered().size} of ${load.sent()}`)

  // From the command line too, a client certificate from another CA is refused with a reason.
  const rogue = startProcess(t, [...cli, '--in', 'udp/listen:127.0.0.1:0', '--out', `tls/client:127.0.0.1:${tunnelPort}`, ...tls.rogueClient, '--max-retry-delay', '5s'])
  await far2.waitFor(/refused TLS client 127\.0\.0\.1:\d+: client certificate rejected/)
  await rogue.waitFor(/WARN .*127\.0\.0\.1:\d+ (closed the TLS connection|ended the TLS session)/)
  // And a TLS server without its certificate is a configuration error (exit 2) that says so.
  const bad = startProcess(t, [...cli, '--in', 'tls/server:127.0.0.1:0', '--out', `udp/broadcast:127.0.0.1:${device.port}`])
  assert.equal(await bad.exited, 2)
  assert.match(bad.output(), /a TLS server needs --cert and --key/)
}, { timeout: 40_000 })

test('reverse TCP tunnel: killing either half and starting it again rebinds the listener and traffic resumes', async (t) => {
  const cli = CLI[t.runtime]
  const device = await echoDevice(t)
  const first = await withFreePorts(t, 2, async ([tunnelPort, nearPort], t) => {
    const nearArgs = [...cli, '--in', `udp/listen:127.0.0.1:${nearPort}`, '--out', `tcp/server:127.0.0.1:${tunnelPort}`]
    const farArgs = [...cli, '--in', `tcp/client:127.0.0.1:${tunnelPort}`, '--out', `udp/broadcast:127.0.0.1:${device.port}`, '--max-retry-delay', '400ms']
    const near = startProcess(t, nearArgs)
    await near.waitFor(/tcp\/server listening/)
    const far = startProcess(t, farArgs)
    await far.waitFor(/connected to/)
    return { near, far, nearArgs, farArgs, nearPort: nearPort! }
  })
  const { nearArgs, farArgs, nearPort } = first
  let { near, far } = first
  const client = await udpPeer(t)
  const load = traffic(client, nearPort)
  t.defer(() => load.stop())
  await load.resumes('traffic through the reverse tunnel')

  // The dialling far half dies: the near half's listener stays and takes the new one.
  await far.stop('SIGKILL')
  // A FIN or a reset, whichever the kernel delivers: either way the line names the peer.
  await near.waitFor(/peer 127\.0\.0\.1:\d+ disconnected/)
  far = startProcess(t, [...farArgs, ...ownLockfile(t)])
  await far.waitFor(/connected to/)
  await load.resumes('traffic after the far half restarted')

  // The listening near half dies: a new one binds the same ports at once (nothing stale holds
  // them) and the far half finds it by itself.
  await near.stop('SIGKILL')
  await far.waitFor(/connection to 127\.0\.0\.1:\d+ lost/)
  near = startProcess(t, [...nearArgs, ...ownLockfile(t)])
  await near.waitFor(/tcp\/server listening/)
  await waitFor(() => count(far, /connected to/) === 2, 'the far half to reconnect to the new near half', 8000)
  await load.resumes('traffic after the near half restarted')
  assert.doesNotMatch(near.output(), /EADDRINUSE|cannot listen/)
}, { timeout: 40_000 })

async function portsFree(tcpPort: number, udpPort: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = net.createServer().once('error', reject).listen(tcpPort, '127.0.0.1', () => s.close(() => resolve()))
  })
  await new Promise<void>((resolve, reject) => {
    const s = dgram.createSocket('udp4').once('error', reject)
    s.bind(udpPort, '127.0.0.1', () => s.close(() => resolve()))
  })
}

/** The process stopped by `signal` exited 0 (or, on a Deno runner, was reported as killed by it: see cleanExit). */
function exitedCleanly(code: number | string, signal: string, runner: string): boolean {
  return code === 0 || (runner === 'deno' && code === signal)
}

async function stopAndCheck(t: TestContext, p: Proc, signal: 'SIGINT' | 'SIGTERM') {
  const started = Date.now()
  const code = await p.stop(signal)
  const took = Date.now() - started
  const out = p.output()
  const line = `edgerelay: ${signal} received, shutting down`
  assert.ok(took < 2000, `${signal}: exited after ${took} ms`)
  assert.ok(exitedCleanly(code, signal, t.runtime), `${signal}: exit ${code}\n${out}`)
  // Lines logged before the signal arrived may still be in the pipe; nothing may follow it.
  assert.ok(out.includes(line), `${signal}: no shutdown line in\n${out}`)
  assert.equal(out.slice(out.indexOf(line)).trim(), line, `${signal}: printed after the shutdown line:\n${out.slice(out.indexOf(line))}`)
}

test('SIGINT and SIGTERM stop connected halves in under 2 s with exit 0, print only the shutdown line, and free their ports', async (t) => {
  const cli = CLI[t.runtime]
  const tls = tlsFiles()
  const device = await echoDevice(t)
  for (const [nearSignal, farSignal] of [['SIGINT', 'SIGTERM'], ['SIGTERM', 'SIGINT']] as const) {
    const { far, near, tunnelPort, nearPort } = await withFreePorts(t, 2, async ([tunnelPort, nearPort], t) => {
      const far = startProcess(t, [...cli, '--in', `tls/server:127.0.0.1:${tunnelPort}`, '--out', `udp/broadcast:127.0.0.1:${device.port}`, ...tls.server])
      const near = startProcess(t, [...cli, '--in', `udp/listen:127.0.0.1:${nearPort}`, '--out', `tls/client:127.0.0.1:${tunnelPort}`, ...tls.client, '--max-retry-delay', '300ms'])
      await far.waitFor(/listening on/, 15_000)
      await near.waitFor(/connected to/, 15_000)
      return { far, near, tunnelPort: tunnelPort!, nearPort: nearPort! }
    })
    const client = await udpPeer(t)
    const load = traffic(client, nearPort, 20)
    await load.resumes('traffic')
    // The far half first, while requests are in flight: the near half carries on, retrying.
    await stopAndCheck(t, far, farSignal)
    await near.waitFor(/connection to .* lost/)
    await stopAndCheck(t, near, nearSignal)
    load.stop()
    await portsFree(tunnelPort, nearPort)
  }
}, { timeout: 40_000 })
