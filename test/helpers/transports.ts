import type { HalfOptions } from '../../mod.ts'
import { testCerts } from './certs.ts'

/**
 * The tunnel transports as rows of a table, so one test body runs over each and a failure names
 * the transport: how each one's listening side and dialling side are written, and what TLS
 * material each side needs. Hosts are written as in a connector: 127.0.0.1, [::1], localhost, *.
 */
export interface Transport {
  /** The row's name in test names. */
  name: 'tcp' | 'tls' | 'ws' | 'wss' | 'grpc' | 'grpc+tls'
  /** The listening side's connector. */
  server(host: string, port: number): string
  /** The dialling side's connector. */
  client(host: string, port: number): string
  /** The server takes a certificate and key, the client checks it against the test CA. */
  tls: boolean
  /** What a refusal's reason is prefixed with on the client ("server refused the tunnel: <prefix><reason>"). */
  refusalPrefix: string
}

export const TRANSPORTS: readonly Transport[] = [
  { name: 'tcp', server: (h, p) => `tcp/server:${h}:${p}`, client: (h, p) => `tcp/client:${h}:${p}`, tls: false, refusalPrefix: '' },
  { name: 'tls', server: (h, p) => `tls/server:${h}:${p}`, client: (h, p) => `tls/client:${h}:${p}`, tls: true, refusalPrefix: '' },
  { name: 'ws', server: (h, p) => `ws/server:${h}:${p}/tunnel`, client: (h, p) => `ws/client:ws://${h}:${p}/tunnel`, tls: false, refusalPrefix: 'HTTP 401: ' },
  { name: 'wss', server: (h, p) => `ws/server:${h}:${p}/tunnel`, client: (h, p) => `ws/client:wss://${h}:${p}/tunnel`, tls: true, refusalPrefix: 'HTTP 401: ' },
  { name: 'grpc', server: (h, p) => `grpc/server:${h}:${p}`, client: (h, p) => `grpc/client:${h}:${p}`, tls: false, refusalPrefix: 'gRPC status 16: ' },
  { name: 'grpc+tls', server: (h, p) => `grpc/server:${h}:${p}`, client: (h, p) => `grpc/client:${h}:${p},tls`, tls: true, refusalPrefix: 'gRPC status 16: ' },
]

/** One row by name. */
export function transport(name: Transport['name']): Transport {
  return TRANSPORTS.find((tr) => tr.name === name)!
}

/** The four kinds of transport the in-process conformance suite runs over (TLS on ws and gRPC is run end to end). */
export const CONFORMANCE: readonly Transport[] = ['tcp', 'tls', 'ws', 'grpc'].map((n) => transport(n as Transport['name']))

/** Library options for the listening side: its connector, and its certificate when the row has TLS. */
export function serverSide(tr: Transport, host: string, port: number): { connector: string; tls?: HalfOptions['tls'] } {
  const pem = tr.tls ? testCerts().pem : undefined
  return { connector: tr.server(host, port), tls: pem && { cert: pem.serverCert, key: pem.serverKey } }
}

/** Library options for the dialling side: its connector, and the CA to check the server with. */
export function clientSide(tr: Transport, host: string, port: number): { connector: string; tls?: HalfOptions['tls'] } {
  const pem = tr.tls ? testCerts().pem : undefined
  return { connector: tr.client(host, port), tls: pem && { caCert: pem.ca } }
}

/** Command-line flags for the listening side (certificate files) and the dialling side (CA file). */
export function cliTlsFlags(tr: Transport): { server: string[]; client: string[] } {
  if (!tr.tls) return { server: [], client: [] }
  const f = testCerts().files
  return { server: ['--cert', f.serverCert, '--key', f.serverKey], client: ['--ca-cert', f.ca] }
}
