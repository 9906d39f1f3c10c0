/**
 * WebSocket client with the ws package, over a connection the core dialled. All three runtimes
 * use it: it is the only client that takes a ready socket (so names, IPv6 and Happy Eyeballs stay
 * in the address layer and --ca-cert works on Deno too) and that lets us read the status and
 * reason of a refused upgrade (native clients report only "failed"; Deno's only the status).
 */
import type http from 'node:http'
import WebSocket from 'ws'
import type { UpgradeFailure, WebSocketConnectOptions } from '../../ports/http.ts'
import type { StreamConn } from '../../ports/runtime.ts'
import { duplexOf } from './duplex.ts'
import { wsPackageConn } from './http.ts'

function failure(message: string, extra: Partial<UpgradeFailure> = {}): UpgradeFailure {
  return Object.assign(new Error(message), extra)
}

export function connectWebSocket(opts: WebSocketConnectOptions): Promise<StreamConn> {
  const { conn } = opts
  // The TLS of wss:// is already in `conn`: ws speaks plain HTTP over it, with the wss URL's host
  // and port in the Host header.
  const url = new URL(opts.url)
  const secure = url.protocol === 'wss:'
  const defaultPort = secure ? '443' : '80'
  const host = url.port && url.port !== defaultPort ? url.host : url.hostname
  url.protocol = 'ws:'
  if (!url.port) url.port = defaultPort
  const socket = duplexOf(conn)
  return new Promise((resolve, reject) => {
    let settled = false
    const ws = new WebSocket(url.href, opts.protocols, {
      headers: { ...opts.headers, host },
      createConnection: (() => socket) as never,
      perMessageDeflate: false,
      followRedirects: false,
    })
    ws.binaryType = 'nodebuffer'
    // Our own deadline: ws's handshakeTimeout rides on socket timeouts, which a connection that
    // is not a net.Socket does not have.
    const deadline = setTimeout(() => fail(failure(`no WebSocket upgrade response within ${opts.handshakeTimeoutMs} ms`)), opts.handshakeTimeoutMs)
    const fail = (err: UpgradeFailure) => {
      clearTimeout(deadline)
      if (settled) return
      settled = true
      ws.terminate()
      conn.destroy()
      reject(err)
    }
    ws.on('unexpected-response', (_req: http.ClientRequest, res: http.IncomingMessage) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => {
        if (body.length < 4000) body += d
      })
      const done = () => {
        const code = res.headers['x-edgerelay-error']
        const reason = body.trim().split('\n')[0] || res.statusMessage || ''
        fail(failure(`server refused the WebSocket upgrade: ${res.statusCode} ${reason}`, { status: res.statusCode, serverCode: typeof code === 'string' ? code : undefined, reason }))
      }
      res.on('end', done)
      res.on('error', done)
      res.on('close', done)
    })
    ws.on('error', (err) => fail(failure(`WebSocket upgrade failed: ${err.message}`)))
    ws.on('open', () => {
      clearTimeout(deadline)
      if (settled) return
      settled = true
      ws.removeAllListeners('error')
      resolve(wsPackageConn(ws, conn.remote, conn.local).conn)
    })
  })
}
