/**
 * The edge host for Deno Deploy and `deno serve` (an `export default { fetch }` module):
 * Deno.upgradeWebSocket for the tunnel's server side, Deno.connect as the TCP dialer (its conn
 * has web streams, the same shape as workerd's sockets). Only Deno globals here, no node:*.
 */
import type { EdgeHost } from './runtime.ts'
import type { StandardWebSocket } from '../web/websocket-conn.ts'

interface DenoNetAddr {
  hostname: string
  port: number
}

interface DenoConn {
  readable: ReadableStream<Uint8Array>
  writable: WritableStream<Uint8Array>
  remoteAddr: DenoNetAddr
  localAddr: DenoNetAddr
  setNoDelay?(on: boolean): void
  closeWrite(): Promise<void>
  close(): void
}

declare const Deno: {
  upgradeWebSocket(req: Request, opts: { protocol?: string; idleTimeout?: number }): { socket: WebSocket; response: Response }
  connect(opts: { hostname: string; port: number; transport: 'tcp'; signal?: AbortSignal }): Promise<DenoConn>
}

const fam = (a: string) => (a.includes(':') ? 6 : 4) as 4 | 6

export const denoDeployHost: EdgeHost = {
  name: 'deno-deploy',
  upgrade(request, protocol) {
    // idleTimeout 0: the tunnel's own heartbeats decide when a peer is dead.
    const { socket, response } = Deno.upgradeWebSocket(request, { protocol, idleTimeout: 0 })
    socket.binaryType = 'arraybuffer'
    const opened = new Promise<void>((resolve) => socket.addEventListener('open', () => resolve(), { once: true }))
    return { socket: socket as unknown as StandardWebSocket, response, opened }
  },
  async connect(address, port, signal) {
    const conn = await Deno.connect({ hostname: address, port, transport: 'tcp', signal })
    try {
      conn.setNoDelay?.(true)
    } catch {
      // not a TCP conn option here
    }
    let closed = false
    // Closing Deno's own writable closes the whole connection; a FIN is closeWrite().
    const inner = conn.writable.getWriter()
    const writable = new WritableStream<Uint8Array>({
      write: (chunk) => inner.write(chunk),
      close: async () => {
        await inner.ready
        await conn.closeWrite()
      },
      abort: (err) => inner.abort(err),
    })
    return {
      readable: conn.readable,
      writable,
      close() {
        if (closed) return
        closed = true
        try {
          conn.close()
        } catch {
          // the streams closed it already
        }
      },
      remote: { address: conn.remoteAddr.hostname, port: conn.remoteAddr.port, family: fam(conn.remoteAddr.hostname) },
      local: { address: conn.localAddr.hostname, port: conn.localAddr.port, family: fam(conn.localAddr.hostname) },
    }
  },
  remoteOf(_request, info) {
    const addr = (info as { remoteAddr?: DenoNetAddr } | undefined)?.remoteAddr
    return addr ? { address: addr.hostname, port: addr.port, family: fam(addr.hostname) } : undefined
  },
}
