import type { Runtime } from '../ports/runtime.ts'

/**
 * `rt` with SO_REUSEPORT on every listener and UDP bind: several processes (--workers) listen on
 * the same address and port, and the kernel spreads connections, and datagrams by their source
 * address and port, among them. The caller checks `capabilities.reusePort` first.
 */
export function withReusePort(rt: Runtime): Runtime {
  return {
    ...rt,
    listenTcp: (opts) => rt.listenTcp({ ...opts, reusePort: true }),
    bindUdp: (opts) => rt.bindUdp({ ...opts, reusePort: true }),
    listenTls: rt.listenTls && ((opts) => rt.listenTls!({ ...opts, reusePort: true })),
    serveHttp: rt.serveHttp && ((opts) => rt.serveHttp!({ ...opts, reusePort: true })),
    serveHttp2: rt.serveHttp2 && ((opts) => rt.serveHttp2!({ ...opts, reusePort: true })),
  }
}
