import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from '../harness.ts'
import { testCerts } from './certs.ts'
import { needPeers } from './peers.ts'
import { withFreePorts } from './with-free-ports.ts'
import { startProcess } from './processes.ts'

export interface Prosody {
  /** Direct TLS (XEP-0368) client port on 127.0.0.1. */
  port: number
  domain: 'localhost'
  dir: string
}

/**
 * Debian's prosody on 127.0.0.1 for one test: a config written here (direct TLS only, with the
 * test CA's certificate for `localhost`; no s2s, HTTP or offline storage), `accounts` registered
 * with prosodyctl, the server run in the foreground and killed when the test ends.
 */
export async function startProsody(t: TestContext, accounts: Record<string, string>): Promise<Prosody> {
  needPeers('prosody')
  const dir = mkdtempSync(join(tmpdir(), 'edgerelay-prosody-'))
  t.defer(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'data'))
  mkdirSync(join(dir, 'certs'))
  const { files } = testCerts()
  const config = join(dir, 'prosody.cfg.lua')
  const configText = (port: number) => `
pidfile = "${dir}/prosody.pid"
data_path = "${dir}/data"
certificates = "${dir}/certs"
run_as_root = true
daemonize = false
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { }
c2s_direct_tls_ports = { ${port} }
s2s_ports = { }
http_ports = { }
https_ports = { }
component_ports = { }
admin_socket = "${dir}/admin.sock"
modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping"; "posix"; }
modules_disabled = { "s2s"; "offline"; }
authentication = "internal_plain"
storage = "internal"
allow_registration = false
c2s_require_encryption = true
ssl = { certificate = "${files.serverCert}"; key = "${files.serverKey}"; }
log = { info = "*console" }
VirtualHost "localhost"
  ssl = { certificate = "${files.serverCert}"; key = "${files.serverKey}"; }
`
  // prosodyctl reads the configuration (any port will do) to find the data folder.
  writeFileSync(config, configText(0))
  for (const [user, password] of Object.entries(accounts)) {
    execFileSync('prosodyctl', ['--config', config, 'register', user, 'localhost', password], { stdio: ['ignore', 'ignore', 'pipe'] })
  }
  // Prosody goes on running when its port is taken ('Failed to open server port P on 127.0.0.1,
  // this port is in use by another application'): then it starts again on another.
  const port = await withFreePorts(t, 1, async ([port], t) => {
    writeFileSync(config, configText(port!))
    const proc = startProcess(t, ['prosody', '--config', config, '-F'])
    const line = await proc.waitFor(/Activated service 'c2s_direct_tls' on \[127\.0\.0\.1\]:\d+|this port is in use/, 15_000)
    if (!/Activated/.test(line)) throw Object.assign(new Error(`prosody: ${line}`), { code: 'EADDRINUSE' })
    return port!
  })
  return { port, domain: 'localhost', dir }
}
