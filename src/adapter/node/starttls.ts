/**
 * STARTTLS with node:tls on a connection from this adapter's listenTcp or connectTcp: the client
 * side is `tls.connect({ socket })`, the server side hands the socket to a tls.Server with
 * `emit('connection')`, so it gets the same handshake limit, client certificate checks and error
 * reports as tls/server. Bun and Deno run this file too (checked on all three: the upgrade, mutual
 * TLS, a missing and a foreign client certificate).
 */
import type tls from 'node:tls'
import nodeTls from 'node:tls'
import { formatAddress } from '../../base/address.ts'
import type { StartTlsOptions, StreamConn, TlsClientOptions, TlsServerOptions } from '../../ports/runtime.ts'
import { detachSocket, wrapSocket } from './tcp.ts'
import { describeDialError, explainClose, TlsDialError, tlsClientOptions, tlsServerFor } from './tls.ts'

/** One tls.Server per set of server options (a half passes the same object for every connection). */
const servers = new WeakMap<TlsServerOptions, { server: tls.Server; waiting: Map<object, (socket: tls.TLSSocket) => void> }>()

/** The TLS connection keeps the plain one's addresses (node:tls over a socket may not report them on every runtime). */
function withAddresses(secure: StreamConn, plain: StreamConn): StreamConn {
  return Object.assign(Object.create(secure) as StreamConn, { remote: plain.remote, local: plain.local })
}

export function startTls(conn: StreamConn, opts: StartTlsOptions): Promise<StreamConn> {
  const socket = detachSocket(conn)
  if (!socket) return Promise.reject(new Error('STARTTLS needs a TCP connection of this runtime'))
  return opts.side === 'server' ? startServer(conn, socket, opts.tls) : startClient(conn, socket, opts.tls)
}

function startServer(conn: StreamConn, socket: import('node:net').Socket, t: TlsServerOptions): Promise<StreamConn> {
  let entry = servers.get(t)
  if (!entry) {
    const waiting = new Map<object, (socket: tls.TLSSocket) => void>()
    // The secure socket's _parent is the raw one on Node, Bun and Deno; that is how it finds its caller.
    const server = tlsServerFor(t, (secure) => waiting.get((secure as tls.TLSSocket & { _parent?: object })._parent ?? secure)?.(secure))
    entry = { server, waiting }
    servers.set(t, entry)
  }
  const { server, waiting } = entry
  return new Promise((resolve, reject) => {
    const done = () => {
      waiting.delete(socket)
      socket.off('close', onClose)
    }
    // A failed handshake is reported through t.onClientError and ends with the socket closing.
    const onClose = () => {
      done()
      reject(new Error(`STARTTLS with ${formatAddress(conn.remote)}: the TLS handshake failed`))
    }
    socket.once('close', onClose)
    waiting.set(socket, (secure) => {
      done()
      resolve(withAddresses(wrapSocket(secure), conn))
    })
    server.emit('connection', socket)
  })
}

function startClient(conn: StreamConn, socket: import('node:net').Socket, t: TlsClientOptions): Promise<StreamConn> {
  const name = t.servername ?? conn.remote.address
  const where = formatAddress(conn.remote)
  return new Promise((resolve, reject) => {
    let settled = false
    let secure: tls.TLSSocket
    const fail = (err: Error) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      secure?.destroy()
      socket.destroy()
      reject(err)
    }
    const timer = setTimeout(() => fail(new TlsDialError(`TLS handshake with ${where} not finished within ${t.handshakeTimeoutMs} ms after STARTTLS`, 'tls')), t.handshakeTimeoutMs)
    try {
      secure = nodeTls.connect({ socket, ...tlsClientOptions(t, name) })
    } catch (err) {
      fail(new TlsDialError(`TLS settings rejected: ${(err as Error).message}`, 'tls', (err as { code?: string }).code, err))
      return
    }
    secure.once('secureConnect', () => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      secure.removeAllListeners('error')
      resolve(withAddresses(explainClose(wrapSocket(secure), where), conn))
    })
    secure.on('error', (err: Error & { code?: string }) => fail(describeDialError(err, 'tls', where)))
    secure.once('close', () => fail(new TlsDialError(`${where} closed the connection during the TLS handshake after STARTTLS`, 'tls')))
  })
}
