import type net from 'node:net'
import type { ListenTarget, StreamListener } from '../../ports/runtime.ts'

/** How long a closing listener lets accepted connections finish before cutting them. */
export const LINGER_MS = 1000

/**
 * Starts a node:net-style server (net, tls, http, http2) listening and returns it as a
 * StreamListener. server.close() waits for every accepted connection to end, so close() first
 * lets them finish (`closeGently`), then cuts what is left (`cutAll`) after a second: closing a
 * listener is always bounded.
 */
export function listenBounded(server: net.Server, at: ListenTarget, conns: { closeGently?(): void; cutAll(): void }): Promise<StreamListener> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(at.fd !== undefined ? { fd: at.fd } : { host: at.address, port: at.port, ipv6Only: at.ipv6Only ?? false, exclusive: true, ...(at.reusePort ? { reusePort: true } : {}) }, () => {
      server.off('error', reject)
      server.on('error', () => {})
      const addr = server.address() as net.AddressInfo
      resolve({
        local: { address: addr.address, port: addr.port, family: at.family },
        close: () => new Promise<void>((done) => {
          server.close(() => done())
          conns.closeGently?.()
          setTimeout(() => conns.cutAll(), LINGER_MS).unref()
        }),
      })
    })
  })
}
