/**
 * uhppoted-tunnel's process options through the CLI: the lockfile, --pid, --workdir, --logfile
 * with --console and --service, --quiet, the refusals (--logfilesize, bare durations), a missing
 * interface waited for, and the daemonize/undaemonize commands checked by systemd-analyze.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { currentRuntime, test, waitFor } from '../harness.ts'
import { freePort } from '../helpers/free-ports.mjs'
import { CLI, cleanExit, run, startOnFreePort, startProcess } from '../helpers/processes.ts'

const tmp = () => mkdtempSync(join(tmpdir(), 'edgerelay-proc-'))

function hasSystemdAnalyze(): boolean {
  try {
    execFileSync('systemd-analyze', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** A half with a default lockfile (fixed ports), started; returns its command and the lockfile's path. */
async function lockedHalf(t: Parameters<typeof startProcess>[0]) {
  const command = (port: number) => [...CLI[t.runtime], '--in', `udp/listen:127.0.0.1:${port}`, '--out', 'udp/broadcast:127.0.0.1:9']
  const { proc, port } = await startOnFreePort(t, command, /udp\/listen listening on/)
  return { command: command(port), proc, lockfile: /lockfile (\S+)/.exec(proc.output())![1]! }
}

test('a second identical half refuses to start, naming the lockfile and the PID; a killed holder\'s lock is taken over', async (t) => {
  const { command: half, proc: first, lockfile } = await lockedHalf(t)
  assert.equal(readFileSync(lockfile, 'utf8').trim(), String(first.child.pid))
  const second = await run(half)
  assert.equal(second.code, 1, second.stderr)
  assert.match(second.stderr, new RegExp(`lockfile '${lockfile.replace(/[.]/g, '\\.')}' is held by PID ${first.child.pid}`))
  assert.ok(cleanExit(await first.stop(), first.output(), t.runtime), first.output())
}, { timeout: 30_000 })

test('a lockfile left by a killed half (kill -9) is taken over, as a released flock is', async (t) => {
  const { command: half, proc: first, lockfile } = await lockedHalf(t)
  first.child.kill('SIGKILL')
  await first.exited
  const third = startProcess(t, half)
  await third.waitFor(/udp\/listen listening on/)
  assert.match(third.output(), /named PID \d+, which no longer runs: taking it over/)
  assert.ok(cleanExit(await third.stop(), third.output(), t.runtime), third.output())
  assert.equal(readFileSync(lockfile, 'utf8'), '', 'released at exit')
}, { timeout: 30_000, skip: currentRuntime() === 'deno' ? 'Deno without --allow-run cannot signal a PID, and reading /proc needs --allow-all, so it cannot tell whether the holder runs: edgerelay keeps such a lockfile and says to remove it (README)' : false })

test('--pid writes the PID and removes it at exit; --workdir is created and holds the default lockfile; --lockfile names it', async (t) => {
  const cli = CLI[t.runtime]
  const dir = tmp()
  const { proc } = await startOnFreePort(t, (port) => [...cli, '--in', `udp/listen:127.0.0.1:${port}`, '--out', 'udp/broadcast:127.0.0.1:9', '--pid', join(dir, 'relay.pid'), '--workdir', join(dir, 'work')], /listening on/)
  assert.equal(readFileSync(join(dir, 'relay.pid'), 'utf8'), `${proc.child.pid}\n`)
  assert.match(proc.output(), new RegExp(`lockfile ${join(dir, 'work').replace(/[.]/g, '\\.')}/uhppoted-tunnel-[0-9a-f]{40}\\.pid`))
  assert.ok(cleanExit(await proc.stop(), proc.output(), t.runtime), proc.output())
  assert.equal(existsSync(join(dir, 'relay.pid')), false)
  // A port of its own: the first one's may be taken by anything else the moment it is free.
  const { proc: named } = await startOnFreePort(t, (p) => [...cli, '--in', `udp/listen:127.0.0.1:${p}`, '--out', 'udp/broadcast:127.0.0.1:9', '--lockfile', join(dir, 'mine.lock'), '--remove-lockfile'], /listening on/)
  assert.ok(existsSync(join(dir, 'mine.lock')))
  assert.ok(cleanExit(await named.stop(), named.output(), t.runtime), named.output())
  assert.equal(existsSync(join(dir, 'mine.lock')), false, '--remove-lockfile')
}, { timeout: 30_000 })

test('--logfile takes the log unless --console; --service sends it to the file even with --console; --quiet keeps warnings only', async (t) => {
  const cli = CLI[t.runtime]
  const dir = tmp()
  // Port 0: several halves start one after the other, and none needs to know its port.
  const base = [...cli, '--in', 'udp/listen:127.0.0.1:0', '--out', 'udp/broadcast:127.0.0.1:9', '--lockfile', join(dir, 'lock')]
  for (const [extra, toFile] of [[[], true], [['--console'], false], [['--console', '--service'], true]] as const) {
    const log = join(dir, `${extra.join('') || 'plain'}.log`)
    const proc = startProcess(t, [...base, '--logfile', log, ...extra])
    if (toFile) {
      await waitFor(() => existsSync(log) && /listening on/.test(readFileSync(log, 'utf8')), `the log in ${log}`, 10_000)
      assert.match(readFileSync(log, 'utf8'), /udp\/listen listening on/, extra.join(' '))
      assert.doesNotMatch(proc.output(), /listening on/)
    } else {
      await proc.waitFor(/udp\/listen listening on/)
      assert.equal(existsSync(log), false, 'nothing goes to the file with --console')
    }
    assert.ok(cleanExit(await proc.stop(), proc.output(), t.runtime), proc.output())
  }
  const quiet = startProcess(t, [...base, '--quiet', '--udp-timeout', '1s', '--in', 'udp/listen::nosuch0:127.0.0.1:0'])
  await quiet.waitFor(/WARN .*nosuch0.*retrying in/)
  assert.doesNotMatch(quiet.output(), /INFO/)
  assert.ok(cleanExit(await quiet.stop(), quiet.output(), t.runtime), quiet.output())
}, { timeout: 40_000 })

test('a missing network interface is waited for with backoff, not a fatal exit', async (t) => {
  const dir = tmp()
  const file = join(dir, 'tunnel.toml')
  const port = await freePort()
  writeFileSync(file, `[defaults]\nmax-retry-delay = "2s"\n[near]\nin = "udp/listen:127.0.0.1:${port}"\nout = "tcp/client:127.0.0.1:9"\ninterfaces = { in = "nosuch0", out = "" }\n`)
  const proc = startProcess(t, [...CLI[t.runtime], '--config', `${file}#near`])
  await proc.waitFor(/no network interface 'nosuch0'.*retrying in \d+ ms[\s\S]*nosuch0.*retrying in \d+ ms/)
  assert.equal(proc.child.exitCode, null, 'still running')
  assert.ok(cleanExit(await proc.stop(), proc.output(), t.runtime), proc.output())
}, { timeout: 30_000 })

test('refused with what to use instead: --logfilesize, --udp-timeout 5, TOML udp-timeout = 5, --user on a running half', async (t) => {
  const cli = CLI[t.runtime]
  const half = ['--in', 'udp/listen:127.0.0.1:0', '--out', 'udp/broadcast:127.0.0.1:9']
  let r = await run([...cli, ...half, '--logfilesize', '10'])
  assert.equal(r.code, 2, r.stderr)
  assert.match(r.stderr, /--logfilesize: .*logrotate/)
  r = await run([...cli, ...half, '--udp-timeout', '5'])
  assert.equal(r.code, 2, r.stderr)
  assert.match(r.stderr, /udp-timeout: '5' has no unit \(did you mean 5s or 5ms\?\)/)
  const file = join(tmp(), 't.toml')
  writeFileSync(file, '[a]\nin = "udp/listen:127.0.0.1:0"\nout = "udp/broadcast:127.0.0.1:9"\nudp-timeout = 5\n')
  r = await run([...cli, '--config', `${file}#a`])
  assert.equal(r.code, 2, r.stderr)
  assert.match(r.stderr, /t\.toml \[a\]: udp-timeout: '5' has no unit/)
  r = await run([...cli, ...half, '--user', 'root:root'])
  assert.equal(r.code, 2, r.stderr)
  assert.match(r.stderr, /--user belongs to 'edgerelay daemonize'/)
})

test('daemonize --dry-run shows the unit and writes nothing; daemonize writes a unit systemd-analyze verifies; undaemonize removes it', async (t) => {
  const cli = CLI[t.runtime]
  const dir = tmp()
  const config = join(dir, 'uhppoted-tunnel.toml')
  writeFileSync(config, '[client]\nin = "tcp/client:127.0.0.1:12345"\nout = "udp/broadcast:127.0.0.1:60005"\n')
  const args = ['daemonize', '--config', `${config}#client`, '--label', 'qwerty', '--user', 'root:root', '--unit-dir', dir]
  const dry = await run([...cli, ...args, '--dry-run'])
  assert.equal(dry.code, 0, dry.stderr)
  const unitPath = join(dir, 'uhppoted-tunnel-qwerty.service')
  assert.match(dry.stdout, new RegExp(`^${unitPath.replace(/[.]/g, '\\.')}:\\n\\[Unit\\]`))
  assert.match(dry.stdout, /^ExecStart=.* --lockfile \/tmp\/uhppoted-tunnel-qwerty\.pid --config ".*uhppoted-tunnel\.toml#client" --label qwerty$/m)
  assert.match(dry.stdout, /^User=root$/m)
  assert.match(dry.stdout, /--dry-run: nothing written/)
  assert.equal(existsSync(unitPath), false)
  const real = await run([...cli, ...args])
  assert.equal(real.code, 0, real.stderr)
  const unit = readFileSync(unitPath, 'utf8')
  assert.ok(real.stdout.includes(unit), 'the text shown is the text written')
  // verify checks the unit's syntax and that ExecStart's program exists and is executable.
  const verify = await run(['systemd-analyze', 'verify', unitPath])
  assert.equal(verify.code, 0, verify.stderr + verify.stdout)
  assert.doesNotMatch(verify.stderr, /uhppoted-tunnel-qwerty\.service:/, verify.stderr)
  const gone = await run([...cli, 'undaemonize', '--label', 'qwerty', '--unit-dir', dir])
  assert.equal(gone.code, 0, gone.stderr)
  assert.equal(existsSync(unitPath), false)
  const missing = await run([...cli, 'undaemonize', '--label', 'qwerty', '--unit-dir', dir])
  assert.equal(missing.code, 2, missing.stderr)
}, { skip: hasSystemdAnalyze() ? false : 'systemd-analyze (Debian systemd) is not installed', timeout: 30_000 })
