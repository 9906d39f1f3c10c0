import { startHalf, type Half, type HalfOptions } from '../../mod.ts'
import type { TestContext } from '../harness.ts'

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

/** A far half (tcp/server → udp/broadcast to `devicePort`) and a near half (udp/listen → tcp/client). */
export async function tunnel(t: TestContext, devicePort: number, opts: Partial<HalfOptions> = {}, farOpts: Partial<HalfOptions> = {}) {
  const far = await half(t, { in: 'tcp/server:127.0.0.1:0', out: `udp/broadcast:127.0.0.1:${devicePort}`, ...opts, ...farOpts })
  const farPort = far.inAddresses()[0]!.port
  const near = await half(t, { in: 'udp/listen:127.0.0.1:0', out: `tcp/client:127.0.0.1:${farPort}`, ...opts })
  return { far, near, farPort, nearPort: near.inAddresses()[0]!.port }
}
