/**
 * Network namespaces for tests (docs/addresses.md#testing-addresses): a rootless user+net namespace (plus a
 * mount namespace when a private hosts file is bind-mounted over /etc/hosts) held open by a
 * `sleep`, with commands run inside through nsenter. Everything is torn down when the test ends:
 * killing the holder and every process started inside removes the namespace and its links.
 * Nothing a test does here reaches the host's network.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from '../harness.ts'
import { missingPeers } from './peers.ts'
import { ROOT, run, startProcess, type Proc } from './processes.ts'

let works: boolean | undefined

/** Whether `unshare -rn` and nsenter work here (they need user namespaces). */
export function namespacesWork(): boolean {
  if (works === undefined) {
    try {
      execFileSync('unshare', ['-rn', 'true'], { stdio: 'ignore', timeout: 5000 })
      execFileSync('nsenter', ['--version'], { stdio: 'ignore', timeout: 5000 })
      works = true
    } catch {
      works = false
    }
  }
  return works
}

/** The skip reason for namespace tests, or false when they can run. */
export const skipWithoutNamespaces = (): string | false => missingPeers('unshare', 'ip') || (namespacesWork() ? false : 'cannot create network namespaces here (unshare -rn / nsenter failed)')

export interface NetnsOptions {
  /** Shell commands run inside, in order, before anything else (`set -e`: one failure aborts). */
  setup: string[]
  /** Contents for a private /etc/hosts (names with both A and AAAA records). */
  hosts?: string
}

export interface Netns {
  /** Pid of the holder process: `nsenter -t pid` joins the namespace. */
  pid: number
  /** What the set-up commands printed. */
  setupOutput(): string
  /** `cmd` prefixed with the nsenter that runs it inside. */
  inside(cmd: string[]): string[]
  /** Runs a command inside to completion. */
  run(cmd: string[], timeoutMs?: number): Promise<{ code: number | string; stdout: string; stderr: string }>
  /** Starts a long-running command inside, killed when the test ends. */
  start(cmd: string[]): Proc
}

/** Disables IPv6 duplicate address detection so addresses are usable at once (no "tentative"). */
export const NO_DAD = 'echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad && echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad'

/**
 * Ephemeral ports inside a test namespace come from 50000-60999 (IPv4 and IPv6, TCP and UDP), so
 * the fixed ports scenarios pick (40000-49999) can never be some earlier connection's local port.
 */
export const EPHEMERAL_PORTS = 'echo "50000 60999" > /proc/sys/net/ipv4/ip_local_port_range'

/** Creates a namespace for this test. */
export async function netns(t: TestContext, opts: NetnsOptions): Promise<Netns> {
  const mount = opts.hosts !== undefined
  const steps = [EPHEMERAL_PORTS, ...opts.setup]
  if (mount) {
    const dir = mkdtempSync(join(tmpdir(), 'edgerelay-ns-'))
    const hosts = join(dir, 'hosts')
    writeFileSync(hosts, opts.hosts!)
    t.defer(() => rmSync(dir, { recursive: true, force: true }))
    steps.unshift(`mount --bind ${hosts} /etc/hosts`)
  }
  const script = `set -e; ${steps.join('; ')}; echo ready; exec sleep 600`
  const holder = startProcess(t, ['unshare', mount ? '-rnm' : '-rn', 'sh', '-c', script])
  await holder.waitFor(/ready/, 10_000)
  const pid = holder.child.pid!
  const inside = (cmd: string[]) => ['nsenter', '-t', String(pid), '-U', '-n', ...(mount ? ['-m'] : []), '--preserve-credentials', `--wd=${ROOT}`, ...cmd]
  return {
    pid,
    setupOutput: () => holder.output(),
    inside,
    run: (cmd, timeoutMs) => run(inside(cmd), timeoutMs),
    start: (cmd) => startProcess(t, inside(cmd)),
  }
}

const BIN = `${ROOT}node_modules/.bin`

/** How to run a TypeScript file on each runtime (the same commands as test/run.mjs). */
export function runtimeCommand(runtime: 'node' | 'bun' | 'deno', file: string): string[] {
  switch (runtime) {
    case 'bun':
      return [`${BIN}/bun`, '--conditions=edgerelay-source', file]
    case 'deno':
      return [`${BIN}/deno`, 'run', '-A', '--unstable-net', file]
    default:
      return [process.execPath, '-C', 'edgerelay-source', '--import', 'tsx', file]
  }
}

/**
 * Runs a scenario script inside the namespace on the test's runtime and returns the JSON it
 * prints on its last `RESULT ` line (the whole output goes into the error when there is none).
 */
export async function runScenario<T>(ns: Netns, runtime: 'node' | 'bun' | 'deno', file: string, args: string[] = [], timeoutMs = 30_000): Promise<T> {
  const r = await ns.run([...runtimeCommand(runtime, `${ROOT}${file}`), ...args], timeoutMs)
  const line = r.stdout.split('\n').reverse().find((l) => l.startsWith('RESULT '))
  if (!line) throw new Error(`${file} on ${runtime} printed no RESULT (exit ${r.code}):\n${r.stdout}\n${r.stderr}`)
  return JSON.parse(line.slice(7)) as T
}
