import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import process from 'node:process'
import { needPeers } from './peers.ts'

/**
 * Test certificates made with openssl at test time (EC P-256, fast), once per test process, in a
 * temporary folder removed at exit. Nothing here is ever committed:
 *   ca                 the tunnel's CA
 *   server             signed by ca, SAN localhost, 127.0.0.1, ::1
 *   client             signed by ca (mutual TLS)
 *   rogueCa, rogue     another CA and a client certificate it signed
 */
export interface TestCerts {
  dir: string
  /** File paths, for the CLI and openssl. */
  files: Record<'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey' | 'rogueCa' | 'rogueCert' | 'rogueKey', string>
  /** The same as PEM text, for the library. */
  pem: Record<'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey' | 'rogueCa' | 'rogueCert' | 'rogueKey', string>
}

let cached: TestCerts | undefined

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
}

function makeCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`,
    '-days', '2', '-subj', `/CN=edgerelay test ${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
}

function makeLeaf(dir: string, name: string, ca: string, cn: string, ext: string[]): void {
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`])
  writeFileSync(join(dir, `${name}.ext`), ext.join('\n') + '\n')
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`])
}

export function testCerts(): TestCerts {
  if (cached) return cached
  needPeers('openssl')
  const dir = mkdtempSync(join(tmpdir(), 'edgerelay-certs-'))
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
  makeCa(dir, 'ca')
  makeCa(dir, 'rogue-ca')
  makeLeaf(dir, 'server', 'ca', 'localhost', ['subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1', 'extendedKeyUsage=serverAuth', 'keyUsage=critical,digitalSignature'])
  makeLeaf(dir, 'client', 'ca', 'edgerelay test client', ['extendedKeyUsage=clientAuth', 'keyUsage=critical,digitalSignature'])
  makeLeaf(dir, 'rogue', 'rogue-ca', 'edgerelay rogue client', ['extendedKeyUsage=clientAuth', 'keyUsage=critical,digitalSignature'])
  const files = {
    ca: join(dir, 'ca.crt'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
    rogueCa: join(dir, 'rogue-ca.crt'),
    rogueCert: join(dir, 'rogue.crt'),
    rogueKey: join(dir, 'rogue.key'),
  }
  const pem = Object.fromEntries(Object.entries(files).map(([k, f]) => [k, readFileSync(f, 'utf8')])) as TestCerts['pem']
  cached = { dir, files, pem }
  return cached
}

/** A server certificate signed by testCerts()'s CA for other names (`DNS:relay.test,IP:10.2.0.2`): its file paths. */
export function serverCertFor(name: string, subjectAltName: string): { cert: string; key: string } {
  const { dir } = testCerts()
  makeLeaf(dir, name, 'ca', name, [`subjectAltName=${subjectAltName}`, 'extendedKeyUsage=serverAuth', 'keyUsage=critical,digitalSignature'])
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) }
}
