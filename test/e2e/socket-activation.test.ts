import assert from 'node:assert/strict'
import { test } from '../harness.ts'
import { needPeers } from '../helpers/peers.ts'
import { CLI, startOnFreePort, startOnFreePorts, startProcess } from '../helpers/processes.ts'
import { rawConnect } from '../helpers/raw-tcp.ts'
import { echoDevice, roundTrip, udpPeer, text } from '../helpers/udp.ts'

// systemd socket activation with Debian's systemd-socket-activate, which opens the listening
// sockets, waits for the first connection or datagram, and execs the half with LISTEN_FDS and
// LISTEN_PID set exactly as systemd does for a .socket unit.

const activate = (sockets: string[], datagram = false) => ['systemd-socket-activate', ...(datagram ? ['-d'] : []), ...sockets.flatMap((s) => ['-l', s])]

test('socket activation, TCP: the far half and its metrics port serve on the sockets systemd opened, a spare one is named in a warning; other runtimes refuse with exit 2', async (t) => {
  needPeers('systemd-socket-activate')
  const cli = CLI[t.runtime]
  const device = await echoDevice(t)
  const { proc: far, ports: [tunnel, metrics, spare] } = await startOnFreePorts(t, 3, ([tunnel, metrics, spare]) => [...activate([`127.0.0.1:${tunnel}`, `127.0.0.1:${metrics}`, `127.0.0.1:${spare}`]), ...cli, '--in', `tcp/server:127.0.0.1:${tunnel}`, '--out', `udp/broadcast:127.0.0.1:${device.port}`, '--metrics', `127.0.0.1:${metrics}`], ([, , spare]) => new RegExp(`Listening on 127\\.0\\.0\\.1:${spare}`))
  if (t.runtime !== 'node') {
    // The first connection makes systemd-socket-activate start the half, which must not bind on its own.
    const poke = await rawConnect(t, tunnel)
    assert.equal(await far.exited, 2, far.output())
    assert.match(far.output(), new RegExp(`systemd passed 3 listening sockets \\(LISTEN_FDS\\), but ${t.runtime} cannot serve on an inherited socket: run this half with Node`))
    await poke.closed
    return
  }
  const near = startProcess(t, [...cli, '--in', 'udp/listen:127.0.0.1:0', '--out', `tcp/client:127.0.0.1:${tunnel}`])
  await near.waitFor(/connected to/)
  await far.waitFor(/socket activation: serving on fd 4: tcp 127\.0\.0\.1:\d+ instead of binding/)
  assert.match(far.output(), new RegExp(`socket activation: serving on fd 3: tcp 127\\.0\\.0\\.1:${tunnel} instead of binding`))
  const nearPort = Number(/udp\/listen listening on 127\.0\.0\.1:(\d+)/.exec(near.output())![1])
  assert.equal(await roundTrip(t, nearPort, 'activated'), 'reply0:activated')
  const health = await fetch(`http://127.0.0.1:${metrics}/healthz`)
  assert.equal([health.status, await health.text()].join(' '), '200 ready\n')
  assert.match(far.output(), new RegExp(`socket activation: fd 5: tcp 127\\.0\\.0\\.1:${spare} matches no listening connector`))
}, { timeout: 40_000 })

test('socket activation, UDP: udp/listen takes the datagram socket, and the datagram that started it is relayed', async (t) => {
  needPeers('systemd-socket-activate')
  const device = await echoDevice(t)
  const { proc: half, port } = await startOnFreePort(t, (port) => [...activate([`127.0.0.1:${port}`], true), ...CLI[t.runtime], '--in', `udp/listen:127.0.0.1:${port}`, '--out', `udp/broadcast:127.0.0.1:${device.port}`], /Listening on/)
  const client = await udpPeer(t)
  client.send('first', port)
  if (t.runtime !== 'node') {
    assert.equal(await half.exited, 2, half.output())
    assert.match(half.output(), /systemd passed 1 listening socket \(LISTEN_FDS\), but \w+ cannot serve on an inherited socket/)
    return
  }
  await client.waitCount(1, 10_000)
  assert.equal(text(client.received[0]!.data), 'reply0:first')
  assert.match(half.output(), new RegExp(`serving on fd 3: udp 127\\.0\\.0\\.1:${port} instead of binding`))
}, { timeout: 30_000 })
