import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from '../harness.ts'
import { testCerts } from '../helpers/certs.ts'
import { half } from '../helpers/halves.ts'
import { needPeers } from '../helpers/peers.ts'
import { run } from '../helpers/processes.ts'

// testssl.sh (Debian's testssl.sh) against tls/server, wss (ws/server with a certificate) and
// https on this runtime: protocols, ciphers, forward secrecy, the known vulnerabilities (LUCKY13,
// BEAST, SWEET32, renegotiation, ...), the server's certificate and, for the HTTP ones, the
// security headers. Nothing rated LOW or worse may come from edgerelay's configuration (issue 13
// item 5). What the private test CA and its short-lived certificates cause is listed here:
const CAUSED_BY_THE_TEST_CA = new Set([
  'cert_chain_of_trust', // the CA is not in testssl's trust stores
  'cert_expirationStatus', // the test certificates live two days
  'cert_notAfter',
  'cert_revocation', // a private CA publishes neither CRL nor OCSP
  'cert_ocspURL',
  'cert_crlDistributionPoints',
  'OCSP_stapling',
])
const RATED = new Set(['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'])

interface Finding {
  id: string
  severity: string
  finding: string
}

async function testssl(port: number, dir: string, http: boolean): Promise<Finding[]> {
  const json = join(dir, `${port}.json`)
  // --nodns none: loopback only, no lookups. -p protocols, -s and -f cipher categories and forward
  // secrecy, -U vulnerabilities, -R renegotiation, -S the certificate, -h HTTP headers.
  const r = await run(['testssl', '--quiet', '--color', '0', '--warnings', 'off', '--nodns', 'none', '--jsonfile', json,
    '-p', '-s', '-f', '-U', '-R', '-S', ...(http ? ['-h'] : []), `127.0.0.1:${port}`], 170_000)
  // Its exit status counts what it found (the test CA's findings among them): the JSON is the verdict.
  assert.ok(existsSync(json), `testssl wrote no report (exit ${r.code}): ${r.stdout.slice(-2000)}${r.stderr}`)
  return JSON.parse(readFileSync(json, 'utf8')) as Finding[]
}

test('testssl.sh finds nothing rated LOW or worse in tls/server, wss and https (test-CA findings excepted)', async (t) => {
  needPeers('testssl', 'openssl')
  const dir = mkdtempSync(join(tmpdir(), 'edgerelay-testssl-'))
  t.defer(() => rmSync(dir, { recursive: true, force: true }))
  const c = testCerts().pem
  const tls = { cert: c.serverCert, key: c.serverKey }
  const out = 'udp/broadcast:127.0.0.1:9'
  const servers = [
    { name: 'tls/server', half: await half(t, { in: 'tls/server:127.0.0.1:0', out, tls, token: 'k', logLevel: 'warn' }), http: false },
    { name: 'wss', half: await half(t, { in: 'ws/server:127.0.0.1:0/tunnel', out, tls, token: 'k', logLevel: 'warn' }), http: true },
    { name: 'https', half: await half(t, { in: 'https/127.0.0.1:0', out, tls, logLevel: 'warn' }), http: true },
  ]
  // The three at once: each scan waits on many round trips, not on the CPU.
  const results = await Promise.all(servers.map((s) => testssl(s.half.inAddresses()[0]!.port, dir, s.http)))
  const problems: string[] = []
  servers.forEach((s, i) => {
    const findings = results[i]!
    const by = (id: string) => findings.find((f) => f.id === id)
    // The scan really looked: these are reported whatever the verdict.
    for (const id of ['TLS1_2', 'TLS1_3', 'LUCKY13', 'secure_client_renego', 'BEAST']) assert.ok(by(id), `${s.name}: testssl reported no ${id}`)
    assert.match(by('TLS1_3')!.finding, /^offered/, `${s.name}: TLS 1.3`)
    assert.match(by('TLS1_1')?.finding ?? '', /not offered/, `${s.name}: TLS 1.1`)
    assert.match(by('LUCKY13')!.finding, /not vulnerable/, `${s.name}: no CBC suites`)
    assert.match(by('secure_client_renego')!.finding, /not vulnerable/, `${s.name}: client renegotiation refused`)
    if (s.http) {
      assert.equal(by('HSTS_time')?.severity, 'OK', `${s.name}: HSTS`)
      assert.equal(by('X-Content-Type-Options')?.severity, 'OK', `${s.name}: nosniff`)
    }
    for (const f of findings) {
      if (RATED.has(f.severity) && !CAUSED_BY_THE_TEST_CA.has(f.id)) problems.push(`${s.name}: ${f.severity} ${f.id}: ${f.finding}`)
    }
  })
  assert.deepEqual(problems, [], problems.join('\n'))
}, { timeout: 200_000 })
