/**
 * socks5/listen:<host>:<port> (in): a SOCKS5 server (RFC 1928). CONNECT to an IPv4, IPv6 or
 * domain-name destination opens a stream through the --out (names are resolved where the stream is
 * dialled: the far half's tcp/dial); username/password (RFC 1929) when --proxy-users is given;
 * UDP ASSOCIATE carried as datagram flows (socks5-udp.ts); BIND refused with 0x07. A refusal is
 * answered with the reply code of its stream code (docs/wire-protocol.md#tcp-streams).
 */
import { RelayError } from '../base/errors.ts'
import type { ConnectorFactory, InConnector } from '../core/connector.ts'
import type { StreamCodeName } from '../core/streams/codes.ts'
import type { ConnectorSpec } from '../net/connector-string.ts'
import {
  Command, encodeMethod, encodeReply, encodeUserPassStatus, Method, parseGreeting, parseRequest, parseUserPass,
  Reply, SOCKS_MAX_MESSAGE,
} from '../protocol/socks5.ts'
import { ProxyClient, proxyListener, type ProxyFront, type ProxyListenerShared } from './proxy-listener.ts'
import { destinationOf } from './socks5-address.ts'
import { UdpAssociations } from './socks5-udp.ts'

const GREETING = 0
const USERPASS = 1
const REQUEST = 2

/** The SOCKS5 reply for a stream code (the table in docs/wire-protocol.md#tcp-streams). */
export function socksReplyOf(code: StreamCodeName): number {
  switch (code) {
    case 'refused':
      return Reply.refused
    case 'unreachable':
      return Reply.hostUnreachable
    case 'not_allowed':
      return Reply.notAllowed
    case 'timeout':
      return Reply.ttlExpired
    case 'bad_destination':
      return Reply.addressTypeNotSupported
    default:
      return Reply.failure
  }
}

/** `10.0.0.2:40122` or `[::1]:5` as the reply's BND address. */
function boundOf(text: string | undefined): { host: string; port: number } | undefined {
  const m = text === undefined ? null : /^\[?([^\]]+?)\]?:(\d+)$/.exec(text)
  return m ? { host: m[1]!, port: Number(m[2]) } : undefined
}

class Socks5Front implements ProxyFront {
  readonly kind = 'socks5/listen'
  readonly maxMessage = SOCKS_MAX_MESSAGE
  private readonly shared: ProxyListenerShared
  private readonly udp: UdpAssociations

  constructor(shared: ProxyListenerShared) {
    this.shared = shared
    this.udp = new UdpAssociations(shared)
  }

  step(c: ProxyClient): void {
    // A message a time: a client may send its greeting, credentials and request in one write.
    for (;;) {
      const before = c.pending().length
      if (before === 0 || !c.inHandshake) return
      if (c.stage === GREETING) this.greeting(c)
      else if (c.stage === USERPASS) this.userPass(c)
      else if (c.stage === REQUEST) return this.request(c)
      else return
      if (c.pending().length === before) return
    }
  }

  close(): void {
    this.udp.close()
  }

  private greeting(c: ProxyClient): void {
    const g = parseGreeting(c.pending())
    if (g.kind === 'more') return
    if (g.kind === 'bad') return c.drop(`greeting: ${g.why}`)
    c.consume(g.used)
    const wanted = this.shared.users ? Method.userPass : Method.noAuth
    if (!g.methods.includes(wanted)) {
      const offered = [...g.methods].map((m) => `0x${m.toString(16).padStart(2, '0')}`).join(', ')
      return c.drop(`offers methods ${offered}, none of them ${this.shared.users ? 'username/password (0x02): --proxy-users is set' : 'no authentication (0x00)'}`, encodeMethod(Method.noneAcceptable))
    }
    c.send(encodeMethod(wanted))
    c.stage = this.shared.users ? USERPASS : REQUEST
  }

  private userPass(c: ProxyClient): void {
    const u = parseUserPass(c.pending())
    if (u.kind === 'more') return
    if (u.kind === 'bad') return c.drop(`username/password: ${u.why}`, encodeUserPassStatus(false))
    c.consume(u.used)
    const user = String.fromCharCode(...u.user)
    if (!this.shared.users!.check(u.user, u.password)) return c.authFailed(user, encodeUserPassStatus(false))
    c.user = user
    c.send(encodeUserPassStatus(true))
    c.stage = REQUEST
  }

  private request(c: ProxyClient): void {
    const r = parseRequest(c.pending())
    if (r.kind === 'more') return
    if (r.kind === 'bad') return c.drop(`request: ${r.why}`, r.reply === undefined ? undefined : encodeReply(r.reply))
    c.consume(r.used)
    c.stage = -1
    if (r.command === Command.bind) {
      this.shared.ctx.stats.add(`${this.shared.stat}.refused.bind`)
      return c.drop('BIND is not supported (reply 0x07)', encodeReply(Reply.commandNotSupported), false)
    }
    if (r.command === Command.udpAssociate) return this.udp.associate(c, r.address)
    const d = destinationOf(r.address)
    if ('why' in d) return c.drop(`CONNECT: ${d.why}`, encodeReply(Reply.addressTypeNotSupported))
    c.open(d.dst, {
      opened: (o) => encodeReply(Reply.succeeded, boundOf(o.bound)),
      refused: (err) => encodeReply(socksReplyOf(err.streamCode)),
    })
  }
}

export function socks5ListenIn(spec: ConnectorSpec, ctx: Parameters<typeof proxyListener>[1]): InConnector {
  if (!spec.endpoint) throw new RelayError('E_CONFIG', `${spec.text}: needs an address to listen on (socks5/listen:127.0.0.1:1080)`)
  return proxyListener(spec, ctx, (shared) => new Socks5Front(shared))
}

export const socks5Connector: ConnectorFactory = { in: (s, ctx) => socks5ListenIn(s, ctx) }
