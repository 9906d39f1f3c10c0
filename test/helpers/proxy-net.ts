/**
 * Three network namespaces for upstream-proxy tests, in one user and mount namespace:
 *
 *   client 10.1.0.2 ── c1|c0 ── proxy 10.1.0.1 / 10.2.0.1 ── s0|s1 ── server 10.2.0.2
 *
 * The proxy namespace does not forward (a new namespace's ip_forward is 0) and the client has
 * no route to 10.2.0.0/24, so from the client the server is reachable only through a proxy
 * program listening in the proxy namespace. A private /etc/hosts (relay.test = 10.2.0.2,
 * proxy.test = 10.1.0.1) and /etc/passwd + /etc/shadow (a user for dante's username method)
 * are bind-mounted for all three. Everything is torn down with the test.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import type { TestContext } from '../harness.ts'
import { ROOT, run, startProcess, type Proc } from './processes.ts'

export const ADDR = { client: '10.1.0.2', proxy: '10.1.0.1', proxyOut: '10.2.0.1', server: '10.2.0.2' } as const
export type Place = 'client' | 'proxy' | 'server'

/** The proxy user: dante checks it against the (private) system password file, tinyproxy against its config. */
export const PROXY_USER = { user: 'relayuser', password: 's3cret-pw' }

export interface ProxyNet {
  /** A folder for configuration files, removed with the test. */
  dir: string
  /** `cmd` prefixed with the nsenter that runs it in `place`. */
  inside(place: Place, cmd: string[]): string[]
  start(place: Place, cmd: string[], env?: Record<string, string | undefined>): Proc
  run(place: Place, cmd: string[], timeoutMs?: number): Promise<{ code: number | string; stdout: string; stderr: string }>
}

export async function proxyNet(t: TestContext): Promise<ProxyNet> {
  const dir = mkdtempSync(join(tmpdir(), 'edgerelay-proxynet-'))
  t.defer(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'hosts'), `127.0.0.1 localhost\n${ADDR.server} relay.test\n${ADDR.proxy} proxy.test\n`)
  copyFileSync('/etc/passwd', join(dir, 'passwd'))
  writeFileSync(join(dir, 'passwd'), `${readFileSync(join(dir, 'passwd'), 'utf8')}${PROXY_USER.user}:x:4242:4242::/nonexistent:/usr/sbin/nologin\n`)
  const hash = execFileSync('openssl', ['passwd', '-6', PROXY_USER.password], { encoding: 'utf8' }).trim()
  writeFileSync(join(dir, 'shadow'), `${PROXY_USER.user}:${hash}:19000:0:99999:7:::\n`)
  const setup = [
    `mount --bind ${dir}/hosts /etc/hosts`, `mount --bind ${dir}/passwd /etc/passwd`, `mount --bind ${dir}/shadow /etc/shadow`,
    'ip link set lo up',
    'ip link add c0 type veth peer name c1', 'ip link add s0 type veth peer name s1',
    `ip addr add ${ADDR.proxy}/24 dev c0`, 'ip link set c0 up',
    `ip addr add ${ADDR.proxyOut}/24 dev s0`, 'ip link set s0 up',
  ]
  const holder = startProcess(t, ['unshare', '-rnm', 'sh', '-c', `set -e; ${setup.join('; ')}; echo ready; exec sleep 600`])
  await holder.waitFor(/ready/, 10_000)
  const enter = (pid: number) => ['nsenter', '-t', String(pid), '-U', '-n', '-m', '--preserve-credentials', `--wd=${ROOT}`]
  const pids: Record<Place, number> = { proxy: holder.child.pid!, client: 0, server: 0 }
  // Each end namespace is made from inside the proxy one (same user and mount namespace) and given its veth end.
  for (const [place, link, address] of [['client', 'c1', ADDR.client], ['server', 's1', ADDR.server]] as const) {
    const end = startProcess(t, [...enter(pids.proxy), 'unshare', '-n', 'sh', '-c', 'echo ready; exec sleep 600'])
    await end.waitFor(/ready/, 10_000)
    pids[place] = end.child.pid!
    const moved = await run([...enter(pids.proxy), 'ip', 'link', 'set', link, 'netns', String(pids[place])])
    if (moved.code !== 0) throw new Error(`moving ${link} into the ${place} namespace failed: ${moved.stderr}`)
    const up = await run([...enter(pids[place]), 'sh', '-c', `set -e; ip link set lo up; ip addr add ${address}/24 dev ${link}; ip link set ${link} up`])
    if (up.code !== 0) throw new Error(`setting up the ${place} namespace failed: ${up.stderr}`)
  }
  const inside = (place: Place, cmd: string[]) => [...enter(pids[place]), ...cmd]
  return {
    dir,
    inside,
    start: (place, cmd, env) => startProcess(t, inside(place, cmd), { env }),
    run: (place, cmd, timeoutMs) => run(inside(place, cmd), timeoutMs),
  }
}

/** tinyproxy (HTTP CONNECT) on the proxy namespace's client side, Basic auth, CONNECT only to `ports`. */
export async function startTinyproxy(net: ProxyNet, port: number, ports: number[]): Promise<Proc> {
  const conf = join(net.dir, 'tinyproxy.conf')
  writeFileSync(conf, [
    `Port ${port}`, `Listen ${ADDR.proxy}`, 'Timeout 30', 'LogLevel Info', 'MaxClients 50', `PidFile "${net.dir}/tinyproxy.pid"`,
    `BasicAuth ${PROXY_USER.user} ${PROXY_USER.password}`, ...ports.map((p) => `ConnectPort ${p}`), '',
  ].join('\n'))
  const proc = net.start('proxy', ['tinyproxy', '-d', '-c', conf])
  await proc.waitFor(/Accepting connections/, 10_000)
  return proc
}

/** danted (SOCKS5) with the username method (the private /etc/shadow), refusing `blockedPort` on the server. */
export async function startDante(net: ProxyNet, port: number, blockedPort: number): Promise<Proc> {
  const conf = join(net.dir, 'danted.conf')
  writeFileSync(conf, [
    'logoutput: stderr', `internal: ${ADDR.proxy} port = ${port}`, `external: ${ADDR.proxyOut}`,
    'socksmethod: username', 'clientmethod: none', 'user.privileged: root', 'user.unprivileged: root',
    'client pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }',
    `socks block {\n from: 0.0.0.0/0 to: ${ADDR.server}/32 port = ${blockedPort}\n log: connect error\n}`,
    'socks pass {\n from: 0.0.0.0/0 to: 0.0.0.0/0\n command: connect\n log: connect error\n}', '',
  ].join('\n'))
  const proc = net.start('proxy', ['danted', '-f', conf, '-N', '1', '-p', join(net.dir, 'danted.pid')])
  await proc.waitFor(/running/, 10_000)
  return proc
}
