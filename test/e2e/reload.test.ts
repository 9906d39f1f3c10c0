import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import process from 'node:process'
import { test, waitFor, type TestContext } from '../harness.ts'
import { freePort } from '../helpers/free-ports.mjs'
import { CLI, run, startProcess, type Proc } from '../helpers/processes.ts'
import { udpPeer, text, type UdpPeer } from '../helpers/udp.ts'

// Reloading a running process's TOML file: SIGHUP, and `edgerelay reload --metrics` through the
// metrics port. Changed tables restart, new ones start, removed ones stop, untouched ones keep
// their tunnel connection; a broken file changes nothing.

/** A UDP device that answers `<name>:<request>`. */
const device = (t: TestContext, name: string) => udpPeer(t, { onMessage: (peer, data, address, port) => peer.socket.send(new TextEncoder().encode(`${name}:${text(data)}`), port, address) })

/** SIGHUP through process.kill: Deno's ChildProcess.kill() sends a signal only once per child. */
const hangUp = (p: Proc) => process.kill(p.child.pid!, 'SIGHUP')

/** One request from a new client socket; its reply's text. */
async function ask(t: TestContext, port: number, payload: string): Promise<string> {
  const client = await udpPeer(t)
  client.send(payload, port)
  await client.waitCount(1, 5000)
  return text(client.received[0]!.data)
}

const sample = async (metrics: number, re: RegExp) => Number(re.exec(await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text())?.[1] ?? NaN)

interface Setup {
  file: string
  ports: Record<'a' | 'b' | 'c' | 'tunnel' | 'farMetrics' | 'metrics', number>
  devices: Record<'one' | 'two', UdpPeer>
  far: Proc
  half: Proc
  toml(tables: Record<string, [string, string]>): void
}

async function setup(t: TestContext): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'edgerelay-reload-'))
  t.defer(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'tunnels.toml')
  const ports = { a: await freePort(), b: await freePort(), c: await freePort(), tunnel: await freePort(), farMetrics: await freePort(), metrics: await freePort() }
  const devices = { one: await device(t, 'one'), two: await device(t, 'two') }
  const toml = (tables: Record<string, [string, string]>) => writeFileSync(file, Object.entries(tables).map(([name, [i, o]]) => `[${name}]\nin = "${i}"\nout = "${o}"\ncodec = "protobuf"\n`).join('\n'))
  const far = startProcess(t, [...CLI[t.runtime], '--in', `tcp/server:127.0.0.1:${ports.tunnel}`, '--out', `udp/broadcast:127.0.0.1:${devices.one.port}`, '--metrics', `127.0.0.1:${ports.farMetrics}`])
  await far.waitFor(/metrics on/)
  toml({
    a: [`udp/listen:127.0.0.1:${ports.a}`, `tcp/client:127.0.0.1:${ports.tunnel}`],
    b: [`udp/listen:127.0.0.1:${ports.b}`, `udp/broadcast:127.0.0.1:${devices.one.port}`],
  })
  const half = startProcess(t, [...CLI[t.runtime], '--config', file, '--metrics', `127.0.0.1:${ports.metrics}`])
  await half.waitFor(/metrics on/)
  await half.waitFor(/connected to/)
  return { file, ports, devices, far, half, toml }
}

test('SIGHUP reloads the TOML file: a changed table restarts, a new one starts, a removed one stops, an untouched one keeps its tunnel connection', async (t) => {
  const { ports, devices, far, half, toml } = await setup(t)
  assert.equal(await ask(t, ports.a, 'x'), 'one:x')
  assert.equal(await ask(t, ports.b, 'y'), 'one:y')
  const reloaded = () => half.output().match(/reloaded: .*\n/g) ?? []
  const withC = () => toml({
    a: [`udp/listen:127.0.0.1:${ports.a}`, `tcp/client:127.0.0.1:${ports.tunnel}`],
    b: [`udp/listen:127.0.0.1:${ports.b}`, `udp/broadcast:127.0.0.1:${devices.two.port}`],
    c: [`udp/listen:127.0.0.1:${ports.c}`, `udp/broadcast:127.0.0.1:${devices.two.port}`],
  })
  withC()
  hangUp(half)
  await waitFor(() => reloaded().length === 1, 'the reload')
  assert.match(reloaded()[0]!, /reloaded: restarted \S+ \[b\]; (started \S+ \[c\]; )?kept \S+ \[a\]/)
  // [c]'s port was free when picked; another process may have bound it since (tests run side by
  // side): then [c] alone did not start, and it is tried again on another port (at most twice).
  for (let attempt = 1; / \[c\] did not start \(udp\/listen:[^)]*(Address already in use|EADDRINUSE)/.test(reloaded().at(-1)!); attempt++) {
    assert.ok(attempt <= 2, reloaded().join(''))
    ports.c = await freePort()
    withC()
    hangUp(half)
    await waitFor(() => reloaded().length === attempt + 1, 'the reload with another port for [c]')
    assert.match(reloaded().at(-1)!, /reloaded: started \S+ \[c\]; kept \S+ \[a\], \S+ \[b\]/)
  }
  assert.match(reloaded().join(''), /started \S+ \[c\]/)
  assert.equal(await ask(t, ports.b, 'y'), 'two:y')
  assert.equal(await ask(t, ports.c, 'z'), 'two:z')
  assert.equal(await ask(t, ports.a, 'x'), 'one:x')
  // [a]'s tunnel connection is the one it had: the far half accepted one connection, ever.
  assert.equal(await sample(ports.farMetrics, /^edgerelay_tunnel_accepted_total\{[^}]*\} (\d+)$/m), 1)
  assert.doesNotMatch(far.output(), /disconnected/)
  toml({ a: [`udp/listen:127.0.0.1:${ports.a}`, `tcp/client:127.0.0.1:${ports.tunnel}`] })
  hangUp(half)
  await waitFor(() => /reloaded: stopped \S+ \[b\], \S+ \[c\]; kept \S+ \[a\]/.test(half.output()), 'the second reload').catch((err) => {
    throw new Error(`${err.message}\n${half.output()}`)
  })
  // [b]'s and [c]'s ports are free again: this test can bind them itself.
  await udpPeer(t, { port: ports.b })
  await udpPeer(t, { port: ports.c })
  assert.equal(await ask(t, ports.a, 'x'), 'one:x')
  assert.equal(half.child.exitCode, null)
}, { timeout: 40_000 })

test('a broken file is refused on reload and every half runs on; `edgerelay reload --metrics` asks through the metrics port and exits 2 for it, 0 once it loads', async (t) => {
  const { file, ports, devices, half, toml } = await setup(t)
  writeFileSync(file, '[a]\nin = "udp/listen:127.0.0.1:1\n')
  hangUp(half)
  await half.waitFor(/reload refused, every half runs on as it was: /)
  assert.equal(await ask(t, ports.a, 'x'), 'one:x')
  assert.equal(await ask(t, ports.b, 'y'), 'one:y')
  const refused = await run([...CLI[t.runtime], 'reload', '--metrics', `127.0.0.1:${ports.metrics}`])
  assert.equal(refused.code, 2, refused.stdout + refused.stderr)
  assert.match(refused.stderr, /reload refused, every half runs on as it was: [^]*not valid TOML[^]*\[E_CONFIG\]/)
  toml({
    a: [`udp/listen:127.0.0.1:${ports.a}`, `tcp/client:127.0.0.1:${ports.tunnel}`],
    b: [`udp/listen:127.0.0.1:${ports.b}`, `udp/broadcast:127.0.0.1:${devices.two.port}`],
  })
  const ok = await run([...CLI[t.runtime], 'reload', '--metrics', `127.0.0.1:${ports.metrics}`])
  assert.equal(ok.code, 0, ok.stdout + ok.stderr)
  assert.match(ok.stdout, /^reloaded: restarted \S+ \[b\]; kept \S+ \[a\]$/m)
  assert.equal(await ask(t, ports.b, 'y'), 'two:y')
  // A table whose new configuration cannot start (its port is taken) keeps running as it was.
  const squatter = await udpPeer(t)
  toml({
    a: [`udp/listen:127.0.0.1:${ports.a}`, `tcp/client:127.0.0.1:${ports.tunnel}`],
    b: [`udp/listen:127.0.0.1:${squatter.port}`, `udp/broadcast:127.0.0.1:${devices.two.port}`],
  })
  const failed = await run([...CLI[t.runtime], 'reload', '--metrics', `127.0.0.1:${ports.metrics}`])
  assert.equal(failed.code, 1, failed.stdout + failed.stderr)
  assert.match(failed.stderr, /\[b\] did not start \(.*\), its old configuration runs again/)
  assert.equal(await ask(t, ports.b, 'y'), 'two:y')
  const nobody = await run([...CLI[t.runtime], 'reload', '--metrics', `127.0.0.1:${await freePort()}`])
  assert.equal(nobody.code, 6, nobody.stderr)
  assert.match(nobody.stderr, /no answer from http:\/\/127\.0\.0\.1:\d+\/reload .*is a half running with --metrics/)
}, { timeout: 60_000 })
