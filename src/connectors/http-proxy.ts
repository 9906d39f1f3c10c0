/**
 * http-proxy/listen:<host>:<port> (in): an HTTP proxy that serves CONNECT (RFC 9110 section 9.3.6),
 * as curl -x, browsers and most HTTPS clients use it. The authority becomes the stream's
 * destination (a name is resolved where it is dialled: the far half's tcp/dial); with
 * --proxy-users, Basic proxy credentials are required (407 until given). A refusal is answered
 * with the status of its stream code (docs/wire-protocol.md#tcp-streams); other methods get 405.
 */
import { RelayError } from '../base/errors.ts'
import type { ConnectorFactory, HalfContext, InConnector } from '../core/connector.ts'
import type { StreamCodeName } from '../core/streams/codes.ts'
import type { ConnectorSpec } from '../net/connector-string.ts'
import { formatHostPort, parseHostPort } from '../net/endpoint.ts'
import { basicCredentials, CONNECT_MAX_HEAD, encodeResponse, parseConnectHead } from '../protocol/http-connect.ts'
import { printable, type ProxyClient, proxyListener, type ProxyFront, type ProxyListenerShared } from './proxy-listener.ts'

/** The HTTP status for a stream code (the table in docs/wire-protocol.md#tcp-streams). */
export function httpStatusOf(code: StreamCodeName): number {
  switch (code) {
    case 'not_allowed':
      return 403
    case 'timeout':
      return 504
    case 'too_many':
      return 503
    case 'bad_destination':
      return 400
    default:
      return 502
  }
}

/** What the client is told (the log has the far half's full reason; the client learns no configuration). */
const CLIENT_TEXT: Partial<Record<StreamCodeName, string>> = {
  refused: 'the destination refused the connection',
  unreachable: 'the destination is unreachable',
  not_allowed: 'the destination is not allowed',
  timeout: 'the destination did not answer in time',
  too_many: 'too many streams; try again later',
  bad_destination: 'not a destination host:port',
}

const utf8 = new TextDecoder()

class HttpProxyFront implements ProxyFront {
  readonly kind = 'http-proxy/listen'
  readonly maxMessage = CONNECT_MAX_HEAD
  readonly overflowAnswer = encodeResponse(431, `request head longer than ${CONNECT_MAX_HEAD} bytes`)
  private readonly shared: ProxyListenerShared

  constructor(shared: ProxyListenerShared) {
    this.shared = shared
  }

  step(c: ProxyClient): void {
    const head = parseConnectHead(c.pending())
    if (head.kind === 'more') return
    if (head.kind === 'bad') return c.drop(head.why, encodeResponse(head.status, head.why))
    const { users, ctx, stat } = this.shared
    const { request } = head
    if (users) {
      if (request.proxyAuthorization === undefined) {
        // The usual first try of a browser: not a failure, the 407 asks for credentials.
        ctx.stats.add(`${stat}.auth_asked`)
        return c.drop('no Proxy-Authorization (answered 407)', encodeResponse(407, 'proxy credentials required'), false)
      }
      const creds = basicCredentials(request.proxyAuthorization)
      if (!creds) return c.drop('Proxy-Authorization is not Basic credentials', encodeResponse(407, 'Basic proxy credentials required'))
      const user = utf8.decode(creds.user)
      if (!users.check(creds.user, creds.password)) return c.authFailed(user, encodeResponse(407, 'wrong proxy credentials'))
      c.user = user
    }
    let dst: string
    try {
      dst = formatHostPort(parseHostPort(request.authority, { role: 'connect' }))
    } catch (err) {
      const why = `CONNECT ${printable(request.authority)}: ${(err as Error).message}`
      return c.drop(why, encodeResponse(400, 'CONNECT takes host:port'))
    }
    c.consume(head.used)
    c.open(dst, {
      opened: () => encodeResponse(200),
      refused: (err) => encodeResponse(httpStatusOf(err.streamCode), `${CLIENT_TEXT[err.streamCode] ?? 'the tunnel could not be opened'} (${dst})`),
    })
  }
}

export function httpProxyListenIn(spec: ConnectorSpec, ctx: HalfContext): InConnector {
  if (!spec.endpoint) throw new RelayError('E_CONFIG', `${spec.text}: needs an address to listen on (http-proxy/listen:127.0.0.1:3128)`)
  return proxyListener(spec, ctx, (shared) => new HttpProxyFront(shared))
}

export const httpProxyConnector: ConnectorFactory = { in: (s, ctx) => httpProxyListenIn(s, ctx) }
