/**
 * XMPP as a tunnel carrier: both halves dial out to an XMPP server and exchange frames as stanzas
 * addressed to each other's JID, so two sites behind NAT meet without opening a port.
 *
 *   --out xmpp/client:near@example.org,to=far@example.org     (the near half)
 *   --in  xmpp/client:far@example.org,from=near@example.org   (the far half)
 *
 * Each frame travels base64 in `<f xmlns='urn:edgerelay:frame:1'>` inside a `<message>` to the
 * peer's bare JID (with a XEP-0334 no-store hint): one stanza per frame, so the server's stanza
 * limits and rate limits see the real traffic, and any server relays it without extensions.
 * In-Band Bytestreams (XEP-0047) were not chosen: they add an open/accept handshake, sequence
 * numbers and their own close per session for nothing a datagram relay needs (frames already carry
 * flows and ids, and a lost frame is a lost datagram), and support among servers' policies varies.
 *
 * The sender of every stanza is checked against to=/from=: anything from another JID is dropped
 * and counted (`dropped.xmpp_forged`); the XMPP server authenticates accounts, so --token is not
 * used (refused). The connection to the server is direct TLS (XEP-0368, port 5223 or `server=`),
 * its certificate verified for the JID's domain (--ca-cert or the system's CAs); login is SASL
 * PLAIN inside that TLS. XMPP's STARTTLS (port 5222, RFC 6120 §5) is not done: the runtime's
 * startTls port could carry it, but direct TLS needs no extra round trip of negotiation.
 */
import { fixedCodec, type ConnectorFactory, type HalfContext } from '../core/connector.ts'
import { RelayError } from '../base/errors.ts'
import { negotiatedWire } from '../protocol/wire.ts'
import { wireFor } from '../protocol/wire-for.ts'
import type { ConnectorSpec } from '../net/connector-string.ts'
import { dialFirst } from '../net/dial.ts'
import { parseHostPort } from '../net/endpoint.ts'
import { tunnelConnector, type StreamTransport } from './stream-tunnel.ts'
import { tlsClientOf, tlsDialer } from './tls-settings.ts'
import { tunnelReach } from './reach.ts'
import { bareJid, parseJid, xmppLogin, type Jid } from './xmpp-link.ts'

const OPTIONS = new Set(['to', 'from', 'server'])

function jidOption(spec: ConnectorSpec, value: string, what: string): Jid {
  const jid = parseJid(value)
  if (!jid) throw new RelayError('E_CONFIG', `${spec.text}: ${what} '${value}' is not a JID (local@domain)`)
  return jid
}

export function xmppTransport(ctx: HalfContext, spec: ConnectorSpec): StreamTransport {
  const text = spec.text
  for (const key of Object.keys(spec.options)) {
    if (!OPTIONS.has(key)) throw new RelayError('E_CONFIG', `${text}: unknown option '${key}' for xmpp/client (options: to=, from=, server=)`)
  }
  const { to, from } = spec.options
  if (to !== undefined && from !== undefined) throw new RelayError('E_CONFIG', `${text}: give the peer once, as to= (--out) or from= (--in)`)
  if (!to && !from) throw new RelayError('E_CONFIG', `${text}: needs the peer's JID: to=far@example.org (--out) or from=near@example.org (--in)`)
  const jid = jidOption(spec, spec.jid ?? '', 'the account')
  const peer = jidOption(spec, (to ?? from)!, to ? 'to=' : 'from=')
  if (bareJid(peer) === bareJid(jid)) throw new RelayError('E_CONFIG', `${text}: the peer must be another account than ${bareJid(jid)}`)
  const password = ctx.options.xmppPassword
  if (password === undefined) throw new RelayError('E_CONFIG', `${text}: needs the account's password: --xmpp-password-file <file> or EDGERELAY_XMPP_PASSWORD (library: xmppPassword)`)
  if (ctx.options.token !== undefined) throw new RelayError('E_CONFIG', `${text}: --token is not used by xmpp: the server authenticates both accounts and every stanza's sender is checked against ${to ? 'to=' : 'from='}`)
  const codec = fixedCodec(ctx, text)
  if (codec === 'uhppoted') throw new RelayError('E_CONFIG', `${text}: --codec uhppoted is uhppoted-tunnel's TCP framing; xmpp carries edgerelay codecs (protobuf, avro, msgpack)`)
  const dialer = tlsDialer(ctx, text, jid.domain)
  if (!spec.endpoint) throw new RelayError('E_CONFIG', `${text}: needs the server's address`)
  const reach = tunnelReach(ctx, 'xmpp/client', text, spec.endpoint, {
    direct: (addresses, port, signal) => dialFirst(dialer, text, addresses, port, connectTimeoutMs + helloTimeoutMs, signal),
    tls: tlsClientOf(ctx, jid.domain),
  })
  const { connectTimeoutMs, helloTimeoutMs } = ctx.options
  return {
    name: 'xmpp/client',
    wire: negotiatedWire(wireFor(codec), { messageFramed: true }),
    async dial(signal) {
      const tls = await reach(signal)
      const abort = () => tls.destroy()
      signal.addEventListener('abort', abort, { once: true })
      try {
        return await xmppLogin(tls, { jid, password, peer, timeoutMs: helloTimeoutMs, drops: ctx.drops })
      } finally {
        signal.removeEventListener('abort', abort)
      }
    },
  }
}

/** `server=host:port` replaces the JID's domain as the place to connect (the certificate is still checked for the domain). */
function withServer(spec: ConnectorSpec): ConnectorSpec {
  const server = spec.options.server
  if (server === undefined) return spec
  return { ...spec, endpoint: parseHostPort(server, { role: 'connect', defaultPort: 5223 }) }
}

const tunnel = tunnelConnector((ctx, _role, spec) => xmppTransport(ctx, spec))('client')

/** Both halves dial out: as --in and as --out, xmpp/client is the dialling side of a tunnel. */
export const xmppConnector: ConnectorFactory = {
  in: (spec, ctx, peer) => tunnel.in!(withServer(spec), ctx, peer),
  out: (spec, ctx, peer) => tunnel.out!(withServer(spec), ctx, peer),
}
