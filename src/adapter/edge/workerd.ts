/**
 * The edge host for Cloudflare Workers (workerd): WebSocketPair for the server side of the
 * tunnel, `cloudflare:sockets` connect() as the TCP dialer. Only Workers globals and
 * `cloudflare:sockets` here; no node:* (the worker runs without nodejs_compat).
 */
// @ts-ignore: a workerd built-in module, resolved by workerd at run time
import { connect } from 'cloudflare:sockets'
import type { EdgeHost, EdgeTcpSocket } from './runtime.ts'
import type { StandardWebSocket } from '../web/websocket-conn.ts'

interface CfSocket {
  readable: ReadableStream<Uint8Array>
  writable: WritableStream<Uint8Array>
  opened: Promise<{ remoteAddress?: string; localAddress?: string }>
  closed: Promise<void>
  close(): Promise<void>
}

declare const WebSocketPair: { new (): { 0: WebSocket; 1: WebSocket & { accept(): void } } }

function splitHostPort(text: string | undefined): { address: string; port: number } | undefined {
  if (!text) return undefined
  const m = /^\[?([^\]]*)\]?:(\d+)$/.exec(text)
  return m ? { address: m[1]!, port: Number(m[2]) } : undefined
}

export const workerdHost: EdgeHost = {
  name: 'workerd',
  upgrade(_request, protocol) {
    const pair = new WebSocketPair()
    const client = pair[0]
    const server = pair[1]
    server.accept()
    // workerd delivers binary messages as Blob unless told otherwise
    // (docs/runtimes.md#workerd-delivers-binary-websocket-messages-as-blob).
    server.binaryType = 'arraybuffer'
    const response = new Response(null, { status: 101, webSocket: client, headers: { 'sec-websocket-protocol': protocol } } as ResponseInit)
    return { socket: server as unknown as StandardWebSocket, response, opened: Promise.resolve() }
  },
  async connect(address, port, signal, opts) {
    const socket = connect({ hostname: address, port }, { secureTransport: 'off', allowHalfOpen: opts?.allowHalfOpen ?? false }) as CfSocket
    const onAbort = () => void socket.close().catch(() => {})
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      const info = await socket.opened
      const remote = splitHostPort(info?.remoteAddress)
      const local = splitHostPort(info?.localAddress)
      const fam = (a: string) => (a.includes(':') ? 6 : 4) as 4 | 6
      const conn: EdgeTcpSocket = {
        readable: socket.readable,
        writable: socket.writable,
        close: () => socket.close(),
        remote: remote ? { ...remote, family: fam(remote.address) } : undefined,
        local: local ? { ...local, family: fam(local.address) } : undefined,
      }
      return conn
    } catch (err) {
      throw Object.assign(new Error(`connect to ${address}:${port} failed: ${(err as Error).message}`), { code: 'ECONNREFUSED', cause: err })
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
  },
  remoteOf(request) {
    const ip = request.headers.get('cf-connecting-ip')
    return ip ? { address: ip, port: 0, family: ip.includes(':') ? 6 : 4 } : undefined
  },
}
