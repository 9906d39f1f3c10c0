/**
 * TLS with node:tls. Bun and Deno use this file too: node:tls is the only TLS stack that does mutual
 * TLS, SNI and handshake timeouts on all three runtimes (docs/runtimes.md#tls).
 */
import { listenBounded } from './listen-bounded.ts'
import { ConnectionGuard, TLS_PROFILE } from './guard.ts'
import net from 'node:net'
import tls from 'node:tls'
import type { Family, SocketAddress, StreamConn, StreamListener, TlsClientOptions, TlsConnectOptions, TlsListenOptions, TlsServerOptions } from '../../ports/runtime.ts'
import { wrapSocket } from './tcp.ts'
import { socketAddress } from '../../base/address.ts'

const MIN_VERSION: tls.SecureVersion = TLS_PROFILE.minVersion

const addressOf = socketAddress

/**
 * An error from the TLS layer of a dial. It has no `code` on purpose: dialers list an attempt's
 * errno when there is one, and here the sentence is what tells the user what happened. The
 * runtime's own code, when it gave one, is in `tlsCode` (and in the text).
 */
export class TlsDialError extends Error {
  readonly tlsCode?: string
  readonly phase: 'tcp' | 'tls'
  constructor(message: string, phase: 'tcp' | 'tls', tlsCode?: string, cause?: unknown) {
    super(message, { cause })
    this.name = 'TlsDialError'
    this.phase = phase
    this.tlsCode = tlsCode
  }
}

/**
 * A TLS server for the options `t`: accepted sockets (from its own listener, or handed to it with
 * `emit('connection', socket)` for STARTTLS) come to `onSecure` once the handshake and the client
 * certificate checks passed; failed handshakes go to `t.onClientError` with the peer's address.
 * Throws when the certificate or key cannot be used.
 */
export function tlsServerFor(t: TlsServerOptions, onSecure: (socket: tls.TLSSocket) => void, guard?: ConnectionGuard): tls.Server {
  let server: tls.Server
  try {
    server = tls.createServer({
      ...TLS_PROFILE,
      cert: t.cert,
      key: t.key,
      ca: t.ca,
      requestCert: t.requestCert ?? false,
      // With client auth, a missing or foreign client certificate fails the handshake itself
      // (the client gets an alert), rather than a connection that is accepted and then cut.
      rejectUnauthorized: t.requestCert ?? false,
      handshakeTimeout: t.handshakeTimeoutMs,
    }, (socket) => {
      socket.on('error', () => {})
      onSecure(socket)
    })
  } catch (err) {
    throw new Error(`the TLS certificate or key cannot be used: ${(err as Error).message}`, { cause: err })
  }
  const peers = new WeakMap<object, SocketAddress>()
  const refused = new WeakSet<object>()
  server.on('connection', (raw: net.Socket) => {
    raw.on('error', () => {})
    // Before TLS nothing can be said to a refused client: it is closed at once (the gate logged why).
    if (guard && !guard.accept(raw)) return void refused.add(raw)
    // Remember the peer now: once a handshake fails, Node no longer knows it.
    peers.set(raw, addressOf(raw.remoteAddress, raw.remotePort))
  })
  server.on('tlsClientError', (err: Error & { code?: string }, socket: tls.TLSSocket) => {
    // A foreign client certificate surfaces as a bare hang-up on Node and Deno; the reason is
    // in authorizationError. After the failure, Node and Deno know the peer only via _parent.
    const s = socket as tls.TLSSocket & { _parent?: net.Socket; authorizationError?: string }
    if (refused.has(s) || (s._parent && refused.has(s._parent))) return void socket.destroy()
    const why = s.authorizationError
    const reported = why
      ? Object.assign(new Error(`certificate verification failed: ${why.toLowerCase().replaceAll('_', ' ')}`), { code: why })
      : Object.assign(new Error(cleanMessage(err.message)), { code: err.code })
    const known = peers.get(s) ?? (s._parent ? peers.get(s._parent) : undefined)
    t.onClientError?.(reported, s.remoteAddress ? addressOf(s.remoteAddress, s.remotePort) : known ?? addressOf(undefined, undefined))
    socket.destroy()
  })
  return server
}

export function listenTls(opts: TlsListenOptions): Promise<StreamListener> {
  // The handshake has its own limit (handshakeTimeout), the hello the session's: the guard admits.
  const guard = new ConnectionGuard({ gate: opts.gate })
  let server: tls.Server
  try {
    server = tlsServerFor(opts.tls, (socket) => {
      const ticket = guard.started(socket)
      // A verified client certificate authenticates the peer (the hello may still carry a token).
      if (opts.tls.requestCert && socket.authorized) ticket?.authenticated()
      opts.onConnection(wrapSocket(socket), ticket)
    }, guard)
  } catch (err) {
    return Promise.reject(err)
  }
  // Raw TCP connections, tracked from accept so handshakes in progress are cut on close too.
  const sockets = new Set<net.Socket>()
  server.on('connection', (raw: net.Socket) => {
    if (raw.destroyed) return
    sockets.add(raw)
    raw.on('close', () => sockets.delete(raw))
  })
  return listenBounded(server, opts, { cutAll: () => { for (const socket of sockets) socket.destroy() } })
}

/** Expands an IPv6 literal to eight numbers, so `::1` and `0:0:0:0:0:0:0:1` compare equal. */
function ipv6Words(text: string): number[] | undefined {
  const plain = text.replace(/^\[|\]$/g, '').replace(/%.*$/, '')
  if (!net.isIPv6(plain)) return undefined
  let s = plain
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s)
  if (v4) s = s.slice(0, v4.index) + `${((+v4[1]! << 8) | +v4[2]!).toString(16)}:${((+v4[3]! << 8) | +v4[4]!).toString(16)}`
  const [head, tail] = s.includes('::') ? s.split('::') as [string, string] : [s, undefined]
  const h = head ? head.split(':') : []
  const tl = tail !== undefined && tail !== '' ? tail.split(':') : []
  const fill = tail !== undefined ? new Array(8 - h.length - tl.length).fill('0') : []
  return [...h, ...fill, ...tl].map((w) => parseInt(w, 16))
}

/**
 * The server certificate must name `expected`. IPv6 literals are compared as addresses: Node
 * 22.23 rejects `::1` against a SAN it prints as `IP Address:0:0:0:0:0:0:0:1`
 * (docs/runtimes.md#node-2223-rejects-an-ipv6-literal-against-its-ip-san).
 */
function checkIdentity(expected: string, cert: tls.PeerCertificate): Error | undefined {
  const want = ipv6Words(expected)
  if (want) {
    const ips = (cert.subjectaltname ?? '').split(/,\s*/).filter((e) => e.startsWith('IP Address:')).map((e) => e.slice(11))
    if (ips.some((ip) => ipv6Words(ip)?.every((w, i) => w === want[i]))) return undefined
    const err = new Error(`the certificate is not valid for IP ${expected} (it names ${cert.subjectaltname ?? 'no alternative names'})`) as Error & { code: string }
    err.code = 'ERR_TLS_CERT_ALTNAME_INVALID'
    return err
  }
  return tls.checkServerIdentity(expected, cert)
}

/** node:tls client options for `t`: the server certificate is always verified, against `name`. */
export function tlsClientOptions(t: TlsClientOptions, name: string): tls.ConnectionOptions {
  return {
    // SNI carries names only (RFC 6066); an IP is still checked against the certificate.
    servername: net.isIP(name) ? undefined : name,
    ca: t.ca,
    cert: t.cert,
    key: t.key,
    minVersion: MIN_VERSION,
    rejectUnauthorized: true,
    checkServerIdentity: (_host, cert) => checkIdentity(name, cert),
    ...(t.alpn ? { ALPNProtocols: t.alpn } : {}),
  }
}

export function connectTls(opts: TlsConnectOptions): Promise<StreamConn> {
  const t = opts.tls
  const name = t.servername ?? opts.address
  const where = `${opts.address.includes(':') ? `[${opts.address}]` : opts.address}:${opts.port}`
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) return reject(opts.signal.reason)
    let socket: tls.TLSSocket
    try {
      // localAddress, noDelay and autoSelectFamily go on to net.connect (the typings omit them here).
      const options: tls.ConnectionOptions & { localAddress?: string; noDelay?: boolean; autoSelectFamily?: boolean } = {
        host: opts.address,
        port: opts.port,
        localAddress: opts.localAddress,
        ...tlsClientOptions(t, name),
        noDelay: true,
        // Racing happens in the core; the runtime dials exactly the literal we give.
        autoSelectFamily: false,
      }
      socket = tls.connect(options)
    } catch (err) {
      reject(new TlsDialError(`TLS settings rejected: ${(err as Error).message}`, 'tcp', (err as { code?: string }).code, err))
      return
    }
    let phase: 'tcp' | 'tls' = 'tcp'
    let settled = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const arm = (ms: number | undefined, message: () => string) => {
      if (timer !== undefined) clearTimeout(timer)
      timer = ms ? setTimeout(() => fail(new TlsDialError(message(), phase)), ms) : undefined
    }
    const cleanup = () => {
      settled = true
      if (timer !== undefined) clearTimeout(timer)
      opts.signal?.removeEventListener('abort', onAbort)
    }
    const fail = (err: Error) => {
      if (settled) return
      cleanup()
      socket.destroy()
      reject(err)
    }
    const onAbort = () => fail(opts.signal!.reason as Error)
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    arm(opts.connectTimeoutMs, () => `no answer within ${opts.connectTimeoutMs} ms`)
    const onTcp = () => {
      if (phase === 'tls' || settled) return
      phase = 'tls'
      arm(t.handshakeTimeoutMs, () => `TLS handshake with ${where} not finished within ${t.handshakeTimeoutMs} ms: the server accepted the connection but did not answer the handshake (is it a TLS server?)`)
    }
    // 'connect' is the TCP connection under the TLS one.
    socket.once('connect', onTcp)
    socket.once('secureConnect', () => {
      if (settled) return
      cleanup()
      socket.removeAllListeners('error')
      resolve(explainClose(wrapSocket(socket), where))
    })
    socket.on('error', (err: Error & { code?: string }) => {
      if (settled) return
      fail(describeDialError(err, phase, where))
    })
    socket.once('close', () => {
      fail(new TlsDialError(phase === 'tls'
        ? `${where} closed the connection during the TLS handshake (is it a TLS server? does it want a client certificate?)`
        : `${where} closed the connection`, phase))
    })
  })
}

/**
 * With TLS 1.3 the client finishes its handshake before the server has checked the client
 * certificate, so a refusal arrives as an alert (or, from some runtimes, a bare close) on a
 * connection that already counts as up. Say so in words.
 */
export function explainClose(conn: StreamConn, where: string): StreamConn {
  let received = false
  const setHandlers = conn.setHandlers.bind(conn)
  return Object.assign(Object.create(conn) as StreamConn, {
    setHandlers(h: Parameters<StreamConn['setHandlers']>[0]) {
      setHandlers({
        ...h,
        onData(chunk: Uint8Array) {
          received = true
          h.onData(chunk)
        },
        onClose(err?: Error) {
          const code = (err as { code?: string } | undefined)?.code ?? ''
          if (err && /ALERT_CERTIFICATE_REQUIRED/.test(code)) {
            h.onClose(new TlsDialError(`${where} requires a client certificate (--cert and --key)`, 'tls', code, err))
          } else if (err && /ALERT/.test(code)) {
            h.onClose(new TlsDialError(`${where} ended the TLS session: ${cleanMessage(err.message)} (${code})`, 'tls', code, err))
          } else if (!err && !received) {
            h.onClose(new TlsDialError(`${where} closed the TLS connection without a word (does it want a client certificate from another CA?)`, 'tls'))
          } else {
            h.onClose(err)
          }
        },
      })
    },
  })
}

/** OpenSSL's `8070…:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:file:line:` → the reason. */
export function cleanMessage(message: string): string {
  const m = /error:[0-9A-Fa-f]+:[^:]*:[^:]*:([^:\n]+)/.exec(message)
  const reason = (m ? m[1]! : message).trim()
  // Bun gives bare OpenSSL reason codes: WRONG_VERSION_NUMBER.
  return /^[A-Z0-9_]+$/.test(reason) ? reason.toLowerCase().replaceAll('_', ' ') : reason
}

export function describeDialError(original: Error & { code?: string }, phase: 'tcp' | 'tls', where: string): Error {
  const code = original.code
  const err = { message: cleanMessage(original.message) }
  const tail = code ? ` (${code})` : ''
  // TCP-level failures keep their errno so the dialer can list them like plain tcp ones.
  if (code && /^E[A-Z]+$/.test(code) && code !== 'ECONNRESET') return original
  if (code === 'ECONNRESET' || /disconnected before secure TLS connection/i.test(err.message)) {
    return new TlsDialError(`${where} closed the connection during the TLS handshake (is it a TLS server? does it want a client certificate?)`, 'tls', code, original)
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' || /wrong version number|packet length too long|record layer failure/i.test(err.message)) {
    return new TlsDialError(`${where} does not speak TLS: ${err.message}${tail}`, phase, code, original)
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || /CERT|SIGNATURE|ISSUER|SELF_SIGNED|CHAIN/.test(code ?? '')) {
    const hint = /SELF_SIGNED|ISSUER|UNABLE_TO_VERIFY|CHAIN/.test(code ?? '') ? ' (give the CA that signed it with --ca-cert)' : ''
    return new TlsDialError(`server certificate of ${where} rejected: ${err.message}${tail}${hint}`, 'tls', code, original)
  }
  return new TlsDialError(`TLS handshake with ${where} failed: ${err.message}${tail}`, phase, code, original)
}
