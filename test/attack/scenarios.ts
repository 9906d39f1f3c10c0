/**
 * The attacks of issue 13 as scenarios: what the half under attack runs, who the legitimate
 * client is, and the attack. `runScenario` starts the target with a descriptor limit, connects the
 * legitimate client, runs the attack while a Meter samples the target, and returns the figures.
 * Counts scale with `size` (the tests use small ones, bench/attacks.ts bigger ones).
 */
import assert from 'node:assert/strict'
import { testCerts } from '../helpers/certs.ts'
import {
  ATTACKER, Meter, bigHttpBody, bigWsMessage, echoDevice, grpcCalls, httpProbe, idleFlood, legitClient, manyFlows, pool, startTarget, tcpTunnel,
  wrongTokenHellos, wrongTokenUpgrades, type Figures, type Probe, type RuntimeName, type Target,
} from './lib.ts'
import { startHalf } from '../../mod.ts'

export const TOKEN = 'attack-suite-token'

export interface ScenarioContext {
  target: Target
  meter: Meter
  /** The attack's scale: a count of connections, calls or flows. */
  size: number
  /** Megabytes for body and message attacks. */
  megabytes: number
  /** How long idle connections are held before they are counted. */
  holdMs: number
}

export interface Scenario {
  name: string
  /** The target's --in (and TLS, token) arguments; --out goes to the echo device. */
  args(): string[]
  /** The legitimate client: a tunnel client string for a near half, or 'http' for the HTTP API. */
  legit(port: number): { out: string; options?: Record<string, unknown> } | 'http'
  /** The attack; returns what it observed (for the report). */
  attack(c: ScenarioContext): Promise<Record<string, unknown>>
  /** What the test asserts about the attack's own observations (the generic checks are in the test). */
  check?(notes: Record<string, unknown>, c: { size: number; megabytes: number }): void
  /** The group it belongs to (one test file each). */
  group: 'idle' | 'auth' | 'size' | 'limits'
}

const tlsFiles = () => {
  const c = testCerts()
  return ['--cert', c.files.serverCert, '--key', c.files.serverKey]
}
const clientTls = () => ({ tls: { caCert: testCerts().pem.ca } })
const hold = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Opens idle connections, keeps them a while, and reports how many the target kept. */
function idle(first?: Uint8Array) {
  return async ({ size, holdMs, meter }: ScenarioContext) => {
    const flood = await idleFlood(targetPort!, size, { first })
    await hold(holdMs)
    // Counted on the target (the attacker's runtime may not see a close it did not read).
    const kept = meter.fdNow - meter.fdBase
    flood.close()
    return { connected: flood.connected, failed: flood.failed, descriptorsAfterHold: kept }
  }
}

/** Idle connections: the target kept no more than one peer may hold. */
const keptFewTunnels = (notes: Record<string, unknown>) => assert.ok((notes.descriptorsAfterHold as number) <= 64, `the target holds ${notes.descriptorsAfterHold} more descriptors with tunnels from one peer`)
const keptFew = (notes: Record<string, unknown>) => assert.ok((notes.descriptorsAfterHold as number) <= 64, `the target holds ${notes.descriptorsAfterHold} more descriptors with idle connections from one peer`)

/** Idle connections to a server: nothing sent, nothing kept beyond what one peer may hold. */
function idleScenario(what: string, args: Scenario['args'], legit: Scenario['legit']): Scenario {
  return { name: `idle connections to ${what}`, args, legit, group: 'idle', check: keptFew, attack: idle() }
}

// The scenario's target port, set by runScenario before the attack runs.
let targetPort: number | undefined

export const SCENARIOS: Scenario[] = [
  idleScenario('tcp/server', () => ['--in', 'tcp/server:127.0.0.1:0', '--token', TOKEN], (port) => ({ out: `tcp/client:127.0.0.1:${port}`, options: { token: TOKEN } })),
  idleScenario('tls/server', () => ['--in', 'tls/server:127.0.0.1:0', '--token', TOKEN, ...tlsFiles()], (port) => ({ out: `tls/client:127.0.0.1:${port}`, options: { token: TOKEN, ...clientTls() } })),
  idleScenario('ws/server', () => ['--in', 'ws/server:127.0.0.1:0/tunnel', '--token', TOKEN], (port) => ({ out: `ws/client:ws://127.0.0.1:${port}/tunnel`, options: { token: TOKEN } })),
  idleScenario('wss (no ClientHello)', () => ['--in', 'ws/server:127.0.0.1:0/tunnel', '--token', TOKEN, ...tlsFiles()], (port) => ({ out: `ws/client:wss://127.0.0.1:${port}/tunnel`, options: { token: TOKEN, ...clientTls() } })),
  idleScenario('grpc/server', () => ['--in', 'grpc/server:127.0.0.1:0', '--token', TOKEN], (port) => ({ out: `grpc/client:127.0.0.1:${port}`, options: { token: TOKEN } })),
  idleScenario('http/', () => ['--in', 'http/127.0.0.1:0'], () => 'http'),
  {
    name: 'wrong-token hellos to tcp/server',
    args: () => ['--in', 'tcp/server:127.0.0.1:0', '--token', TOKEN],
    legit: (port) => ({ out: `tcp/client:127.0.0.1:${port}`, options: { token: TOKEN } }),
    group: 'auth',
    check: (n, c) => assert.equal(n.refused, c.size, 'every hello got a refusal with its reason'),
    attack: async ({ size }) => {
      const r = await wrongTokenHellos(targetPort!, size)
      return { refused: r.refused, reasons: r.replies.join(' | ') }
    },
  },
  {
    name: 'wrong-token upgrades to ws/server',
    args: () => ['--in', 'ws/server:127.0.0.1:0/tunnel', '--token', TOKEN],
    legit: (port) => ({ out: `ws/client:ws://127.0.0.1:${port}/tunnel`, options: { token: TOKEN } }),
    group: 'auth',
    check: (n, c) => assert.equal(Object.values(JSON.parse(n.statuses as string) as Record<string, number>).reduce((a, b) => a + b, 0), c.size),
    attack: async ({ size }) => ({ statuses: JSON.stringify(await wrongTokenUpgrades(targetPort!, '/tunnel', size)) }),
  },
  {
    name: 'wrong-token calls to grpc/server',
    args: () => ['--in', 'grpc/server:127.0.0.1:0', '--token', TOKEN],
    legit: (port) => ({ out: `grpc/client:127.0.0.1:${port}`, options: { token: TOKEN } }),
    group: 'auth',
    attack: async ({ size }) => ({ statuses: JSON.stringify((await grpcCalls(targetPort!, size, { token: 'wrong-token' })).statuses) }),
  },
  {
    name: 'many flows in calls to an open grpc/server',
    args: () => ['--in', 'grpc/server:127.0.0.1:0'],
    legit: (port) => ({ out: `grpc/client:127.0.0.1:${port}` }),
    group: 'limits',
    attack: async ({ size, holdMs }) => {
      const r = await grpcCalls(targetPort!, 2, { frames: (call) => manyFlows(size, 1 + call * size), holdMs })
      return { statuses: JSON.stringify(r.statuses) }
    },
  },
  {
    name: 'many tunnels to an open tcp/server',
    args: () => ['--in', 'tcp/server:127.0.0.1:0'],
    legit: (port) => ({ out: `tcp/client:127.0.0.1:${port}` }),
    group: 'limits',
    check: keptFewTunnels,
    attack: async ({ size, holdMs, meter }) => {
      const sockets: import('node:net').Socket[] = []
      await pool(size, 100, async () => sockets.push(await tcpTunnel(targetPort!, [])))
      await hold(holdMs)
      const kept = meter.fdNow - meter.fdBase
      sockets.forEach((s) => s.destroy())
      return { opened: sockets.length, descriptorsAfterHold: kept }
    },
  },
  {
    name: 'many concurrent calls to an open grpc/server',
    args: () => ['--in', 'grpc/server:127.0.0.1:0'],
    legit: (port) => ({ out: `grpc/client:127.0.0.1:${port}` }),
    group: 'limits',
    attack: async ({ size, holdMs }) => ({ statuses: JSON.stringify((await grpcCalls(targetPort!, size, { concurrency: size, holdMs })).statuses) }),
  },
  {
    name: 'oversize HTTP body to http/',
    args: () => ['--in', 'http/127.0.0.1:0'],
    legit: () => 'http',
    group: 'size',
    check: (n, c) => {
      assert.equal(n.status, 413)
      assert.ok((n.sentBeforeAnswerMB as number) < c.megabytes / 2, `the answer came after ${n.sentBeforeAnswerMB} MB`)
    },
    attack: async ({ megabytes }) => {
      const r = await bigHttpBody(targetPort!, '/udp/broadcast', megabytes << 20)
      return { status: r.status, sentBeforeAnswerMB: Math.round(r.sentBeforeAnswer / 104857.6) / 10 }
    },
  },
  {
    name: 'oversize message to an open ws/server',
    args: () => ['--in', 'ws/server:127.0.0.1:0/tunnel'],
    legit: (port) => ({ out: `ws/client:ws://127.0.0.1:${port}/tunnel` }),
    group: 'size',
    check: (n, c) => {
      assert.equal(n.closeCode, 1009)
      assert.ok((n.sentBeforeCloseMB as number) < c.megabytes / 2, `closed after ${n.sentBeforeCloseMB} MB`)
    },
    attack: async ({ megabytes }) => {
      // Under the ws package's own 100 MiB maxPayload, which alone would refuse it at its header.
      const r = await bigWsMessage(targetPort!, '/tunnel', Math.min(megabytes, 99) << 20)
      return { upgraded: r.upgraded, closeCode: r.closeCode ?? 'none', sentBeforeCloseMB: Math.round(r.sentBeforeClose / 104857.6) / 10 }
    },
  },
  {
    name: 'HTTP requests through a tunnel to the far half',
    args: () => ['--in', 'tcp/server:127.0.0.1:0'],
    legit: (port) => ({ out: `tcp/client:127.0.0.1:${port}` }),
    group: 'limits',
    attack: async ({ size }) => {
      // The attacker's HTTP API half, dialling the target as another tunnel client.
      const near = await startHalf({ in: `http/${ATTACKER}:0`, out: `tcp/client:127.0.0.1:${targetPort}`, logLevel: 'silent' })
      const port = near.inAddresses()[0]!.port
      let ok = 0
      let other = 0
      await pool(size, 100, async (i) => {
        const res = await fetch(`http://${ATTACKER}:${port}/udp/broadcast`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ID: i, wait: '100ms', request: [1, 2, 3] }) })
        await res.arrayBuffer()
        if (res.status === 200) ok++
        else other++
      })
      await near.close()
      return { answered200: ok, otherStatus: other }
    },
  },
]

export interface ScenarioResult extends Figures {
  scenario: string
  runtime: RuntimeName
  notes: Record<string, unknown>
  /** The target's last log lines, for a failure's message. */
  tail: string
}

/** Runs one scenario against a CLI half on `runtime` under `ulimit -n fdLimit`, with `extra` arguments. */
export async function runScenario(s: Scenario, runtime: RuntimeName, opts: { fdLimit: number; size: number; megabytes: number; holdMs?: number; extra?: string[] }): Promise<ScenarioResult> {
  const device = await echoDevice()
  let target: Target | undefined
  let legit: { probe: Probe; close(): Promise<void> } | undefined
  try {
    target = await startTarget(runtime, [...s.args(), '--out', `udp/broadcast:127.0.0.1:${device.port}`, ...(opts.extra ?? [])], opts.fdLimit)
    targetPort = target.port
    const who = s.legit(target.port)
    if (who === 'http') {
      legit = { probe: httpProbe(target.port), close: async () => {} }
      await hold(300)
    } else {
      legit = await legitClient(who.out, who.options as never)
    }
    const meter = new Meter(target)
    meter.start()
    const notes = await s.attack({ target, meter, size: opts.size, megabytes: opts.megabytes, holdMs: opts.holdMs ?? 3000 })
    await hold(500)
    const figures = meter.stop(await legit.probe.stop())
    return { scenario: s.name, runtime, notes, ...figures, tail: target.output().split('\n').slice(-25).join('\n') }
  } finally {
    await legit?.close().catch(() => {})
    await target?.stop()
    device.close()
    targetPort = undefined
  }
}

