import { startHalf, type Half, type HalfOptions } from '../../mod.ts'
import type { TestContext } from '../harness.ts'
import { clientSide, serverSide, transport, type Transport } from './transports.ts'

export interface LoggedHalf extends Half {
  lines: string[]
}

/** Starts a half whose log lines are collected and which is closed when the test ends. */
export async function half(t: TestContext, opts: HalfOptions): Promise<LoggedHalf> {
  const lines: string[] = []
  const h = await startHalf({ logLevel: 'debug', ...opts, logger: (_level, line) => lines.push(line) })
  t.defer(() => h.close())
  return Object.assign(h, { lines })
}

export interface TunnelOptions {
  /** Options for both halves. */
  both?: Partial<HalfOptions>
  far?: Partial<HalfOptions>
  near?: Partial<HalfOptions>
  /** The far half dials out to a listening near half (default: the near half dials the far half). */
  reverse?: boolean
  /** Host both sides use (default 127.0.0.1); the listening side may be given its own. */
  host?: string
  serverHost?: string
}

export interface Tunnel {
  /** The half next to the device (udp/broadcast out). */
  far: LoggedHalf
  /** The half next to the client (udp/listen in). */
  near: LoggedHalf
  /** The listening side's port (on the far half, or on the near half when reversed). */
  serverPort: number
  /** Where the client sends its datagrams. */
  nearPort: number
}

/**
 * A tunnel over `tr` between a far half (→ udp/broadcast to `devicePort`) and a near half
 * (udp/listen on 127.0.0.1:0): the near half dials the far one, or the far one dials out when
 * `reverse`. The listening side starts first on port 0.
 */
export async function tunnelOver(t: TestContext, tr: Transport, devicePort: number, opts: TunnelOptions = {}): Promise<Tunnel> {
  const host = opts.host ?? '127.0.0.1'
  const server = serverSide(tr, opts.serverHost ?? host, 0)
  const deviceSide = { out: `udp/broadcast:127.0.0.1:${devicePort}` }
  const clientSideIn = { in: 'udp/listen:127.0.0.1:0' }
  if (!opts.reverse) {
    const far = await half(t, { ...deviceSide, in: server.connector, tls: server.tls, ...opts.both, ...opts.far })
    const serverPort = far.inAddresses()[0]!.port
    const client = clientSide(tr, host, serverPort)
    const near = await half(t, { ...clientSideIn, out: client.connector, tls: client.tls, ...opts.both, ...opts.near })
    return { far, near, serverPort, nearPort: near.inAddresses()[0]!.port }
  }
  const near = await half(t, { ...clientSideIn, out: server.connector, tls: server.tls, ...opts.both, ...opts.near })
  const serverPort = near.outAddresses()[0]!.port
  const client = clientSide(tr, host, serverPort)
  const far = await half(t, { ...deviceSide, in: client.connector, tls: client.tls, ...opts.both, ...opts.far })
  return { far, near, serverPort, nearPort: near.inAddresses()[0]!.port }
}

/** A tcp tunnel: a far half (tcp/server → udp/broadcast to `devicePort`) and a near half (udp/listen → tcp/client). */
export async function tunnel(t: TestContext, devicePort: number, opts: Partial<HalfOptions> = {}, farOpts: Partial<HalfOptions> = {}) {
  const { far, near, serverPort, nearPort } = await tunnelOver(t, transport('tcp'), devicePort, { both: opts, far: farOpts })
  return { far, near, farPort: serverPort, nearPort }
}
