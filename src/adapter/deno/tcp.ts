/**
 * TCP connect on Deno: node:net, as on Node and Bun, except for link-local addresses with a
 * zone: Deno's node:net drops the zone and connect() fails with a bare EINVAL (found by
 * test/ns/dualstack.test.ts; Deno.connect itself keeps it). Say so instead.
 */
import type { StreamConn, TcpConnectOptions } from '../../ports/runtime.ts'
import { connectTcp as connectNodeTcp } from '../node/tcp.ts'

const ZONED_LINK_LOCAL = /^fe[89ab][0-9a-f]:[^%]*%/i

export function connectTcp(opts: TcpConnectOptions): Promise<StreamConn> {
  if (ZONED_LINK_LOCAL.test(opts.address)) {
    const err = new Error(`Deno's node:net cannot connect to a link-local address with a zone (${opts.address}): it drops the zone; use a global address, or Node or Bun`)
    return Promise.reject(Object.assign(err, { code: 'E_UNSUPPORTED_ON_RUNTIME' }))
  }
  return connectNodeTcp(opts)
}
