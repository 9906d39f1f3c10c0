import { test } from '../harness.ts'
import { digThroughCliHalves } from '../helpers/cli-dig.ts'
import { cliTlsFlags, transport, TRANSPORTS, type Transport } from '../helpers/transports.ts'

// End to end with programs nobody here wrote, one body over every tunnel transport: dig → near
// half (this runtime's CLI, started first: it must retry until the far half is up) → tunnel →
// far half (the same CLI) → dnsmasq. tcp runs in every codec named on both halves; the other
// rows run the defaults (a tcp/tls server's default codec is auto) with a token, certificates
// from openssl for the TLS rows.

interface DigRow {
  name: string
  server(host: string, port: number): string
  client(host: string, port: number): string
  far: string[]
  near: string[]
}

const TOKEN = ['--token', 'e2e-secret']

const row = (tr: Transport, extra: string[]): DigRow => ({ name: tr.name, server: tr.server, client: tr.client, far: [...cliTlsFlags(tr).server, ...extra], near: [...cliTlsFlags(tr).client, ...extra] })

const ROWS: DigRow[] = [
  // uhppoted framing has no hello, so no token.
  ...['protobuf', 'avro', 'msgpack', 'uhppoted'].map((codec) => ({ ...row(transport('tcp'), ['--codec', codec, ...(codec === 'uhppoted' ? [] : TOKEN)]), name: `tcp (${codec})` })),
  ...TRANSPORTS.filter((tr) => tr.name !== 'tcp').map((tr) => row(tr, TOKEN)),
  { name: 'zmq', server: (h, p) => `zmq/server:${h}:${p}`, client: (h, p) => `zmq/client:${h}:${p}`, far: TOKEN, near: TOKEN },
]

for (const r of ROWS) {
  test(`dig → near half → ${r.name} tunnel → far half → dnsmasq, through the real CLI`, async (t) => {
    await digThroughCliHalves(t, (p) => r.server('127.0.0.1', p), (p) => r.client('127.0.0.1', p), ['--max-retry-delay', '500ms'], { farArgs: r.far, nearArgs: r.near, nearFirst: true })
  }, { timeout: 30_000 })
}
