/**
 * One XMPP client session (RFC 6120) on a TLS connection, as a StreamConn to one peer JID: login
 * with SASL PLAIN, bind a resource, send presence; then each write() is one `<message>` to the
 * peer carrying one frame in base64, and each such message from the peer is one onData(). Stanzas
 * from any other JID, undecodable payloads and bounces are dropped and counted; IQ requests get
 * the answers RFC 6120 requires (XEP-0199 pings a result, the rest service-unavailable).
 */
import type { StreamConn } from '../ports/runtime.ts'
import { RelayError } from '../base/errors.ts'
import type { DropReporter } from '../base/stats.ts'
import { HandshakeConn } from '../core/tunnel/handshake-conn.ts'
import { XmlStreamParser, child, escapeXml, type XmlElement } from '../protocol/xml-stream.ts'
import { fromBase64, toBase64 } from '../base/base64.ts'

export const FRAME_NS = 'urn:edgerelay:frame:1'
const SASL_NS = 'urn:ietf:params:xml:ns:xmpp-sasl'
const BIND_NS = 'urn:ietf:params:xml:ns:xmpp-bind'
/** Stanzas and tags above this many characters end the stream (a frame of 64 KiB is ~88 KiB in base64). */
const MAX_STANZA = 256 * 1024

export interface Jid {
  local: string
  domain: string
}

export const bareJid = (j: Jid) => `${j.local}@${j.domain}`

/** `local@domain[/resource]` → the bare JID, lower-cased (local parts and domains compare without case). */
export function parseJid(text: string): Jid | undefined {
  const m = /^([^@/\s"&'<>:]{1,1023})@([^@/\s"&'<>]{1,1023})(\/.*)?$/.exec(text)
  return m ? { local: m[1]!.toLowerCase(), domain: m[2]!.toLowerCase() } : undefined
}

export interface XmppLinkOptions {
  jid: Jid
  password: string
  peer: Jid
  /** How long login may take. */
  timeoutMs: number
  drops: DropReporter
}

/** Logs in on `tls` and resolves with a StreamConn to `peer`; rejects (connection destroyed) on failure. */
export function xmppLogin(tls: StreamConn, o: XmppLinkOptions): Promise<StreamConn> {
  return new XmppLink(tls, o).opened
}

type Step = 'features' | 'auth' | 'features2' | 'bind' | 'open'

const encoder = new TextEncoder()

class XmppLink extends HandshakeConn {
  private readonly o: XmppLinkOptions
  private readonly decoder = new TextDecoder('utf-8', { fatal: true })
  private readonly parser: XmlStreamParser
  private step: Step = 'features'
  private readonly peer: string
  private nextId = 0

  constructor(tls: StreamConn, o: XmppLinkOptions) {
    super(tls, o.timeoutMs, () => new RelayError('E_HELLO_TIMEOUT', `XMPP login as ${bareJid(o.jid)} not completed within ${o.timeoutMs} ms`))
    this.o = o
    this.peer = bareJid(o.peer)
    this.parser = new XmlStreamParser({
      streamOpen: () => {},
      stanza: (el) => this.stanza(el),
      streamClose: () => this.end(new RelayError('E_CLOSED', 'the XMPP server closed the stream')),
    }, MAX_STANZA)
    this.openStream()
  }

  private send(xml: string): boolean {
    return this.raw.write(encoder.encode(xml))
  }

  private openStream(): void {
    this.send(`<?xml version='1.0'?><stream:stream to='${escapeXml(this.o.jid.domain)}' version='1.0' xml:lang='en' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`)
  }

  protected received(chunk: Uint8Array): void {
    try {
      this.parser.push(this.decoder.decode(chunk, { stream: true }))
    } catch (err) {
      this.end(new RelayError((err as RelayError).code ?? 'E_XML', `XMPP server sent bad XML: ${(err as Error).message}`))
    }
  }

  protected closedDuringHandshake(err?: Error): Error {
    return err ?? new RelayError('E_CLOSED', 'the XMPP server closed the connection during the login')
  }

  private stanza(el: XmlElement): void {
    if (this.isClosed) return
    if (el.name === 'stream:error') {
      const condition = el.children[0]?.name ?? 'unknown'
      const conflict = condition === 'conflict' ? ' (another session took this resource)' : ''
      return this.end(new RelayError('E_XMPP_STREAM', `XMPP stream error from the server: ${condition}${conflict}`))
    }
    switch (this.step) {
      case 'features': return this.startAuth(el)
      case 'auth': return this.authResult(el)
      case 'features2': return this.bind(el)
      case 'bind': return this.bound(el)
      case 'open': return this.incoming(el)
    }
  }

  private startAuth(features: XmlElement): void {
    const mechanisms = child(features, 'mechanisms', SASL_NS)
    const offered = mechanisms?.children.map((m) => m.text.trim()) ?? []
    if (!offered.includes('PLAIN')) return this.end(new RelayError('E_XMPP_AUTH', `the XMPP server offers no SASL PLAIN (offers: ${offered.join(', ') || 'none'})`))
    const creds = toBase64(encoder.encode(`\0${this.o.jid.local}\0${this.o.password}`))
    this.step = 'auth'
    this.send(`<auth xmlns='${SASL_NS}' mechanism='PLAIN'>${creds}</auth>`)
  }

  private authResult(el: XmlElement): void {
    if (el.name === 'failure') {
      const why = el.children.find((c) => c.name !== 'text')?.name ?? 'failure'
      return this.end(new RelayError('E_AUTH', `XMPP server refused the login of ${bareJid(this.o.jid)}: ${why}`))
    }
    if (el.name !== 'success') return this.end(new RelayError('E_XMPP_AUTH', `unexpected <${el.name}> during SASL`))
    this.step = 'features2'
    this.parser.reset()
    this.openStream()
  }

  private bind(features: XmlElement): void {
    if (!child(features, 'bind', BIND_NS)) return this.end(new RelayError('E_XMPP_STREAM', 'the XMPP server offers no resource binding'))
    this.step = 'bind'
    const resource = `edgerelay-${Math.random().toString(36).slice(2, 10)}`
    this.send(`<iq type='set' id='bind'><bind xmlns='${BIND_NS}'><resource>${resource}</resource></bind></iq>`)
  }

  private bound(iq: XmlElement): void {
    if (iq.name !== 'iq' || iq.attrs.id !== 'bind') return
    if (iq.attrs.type !== 'result') return this.end(new RelayError('E_XMPP_STREAM', `binding a resource failed: ${iq.children.find((c) => c.name === 'error')?.children[0]?.name ?? 'error'}`))
    // Available, so messages to our bare JID reach this resource (RFC 6121 §8.5.2.1.1).
    this.send('<presence><priority>1</priority></presence>')
    this.step = 'open'
    this.handshakeDone()
  }

  private incoming(el: XmlElement): void {
    if (el.name === 'iq') return this.answerIq(el)
    if (el.name !== 'message') return
    const from = parseJid(el.attrs.from ?? '')
    const sender = from ? bareJid(from) : '(no sender)'
    if (sender !== this.peer) {
      return this.o.drops.drop('xmpp_forged', `a message from ${sender.slice(0, 64)}, not the peer ${this.peer}, dropped`)
    }
    if (el.attrs.type === 'error') {
      const condition = child(el, 'error')?.children[0]?.name ?? 'unknown'
      return this.o.drops.drop('xmpp_bounced', `the server returned a frame to ${this.peer}: ${condition} (is the peer online?)`)
    }
    const payload = child(el, 'f', FRAME_NS)
    if (!payload) return this.o.drops.drop('xmpp_no_frame', `a message from ${this.peer} without an edgerelay frame`)
    const bytes = fromBase64(payload.text.trim())
    if (!bytes || bytes.length === 0) return this.o.drops.drop('xmpp_malformed', `a frame from ${this.peer} that is not base64`)
    this.deliver(bytes)
  }

  private answerIq(iq: XmlElement): void {
    const type = iq.attrs.type
    if (type !== 'get' && type !== 'set') return
    const to = iq.attrs.from ? ` to='${escapeXml(iq.attrs.from)}'` : ''
    const id = escapeXml(iq.attrs.id ?? '')
    if (type === 'get' && child(iq, 'ping', 'urn:xmpp:ping')) {
      this.send(`<iq type='result' id='${id}'${to}/>`)
      return
    }
    this.send(`<iq type='error' id='${id}'${to}><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`)
  }

  write(data: Uint8Array): boolean {
    if (!this.isOpen) return false
    const id = (this.nextId = (this.nextId + 1) % 0x7fffffff)
    return this.send(`<message to='${escapeXml(this.peer)}' id='f${id}'><f xmlns='${FRAME_NS}'>${toBase64(data)}</f><no-store xmlns='urn:xmpp:hints'/></message>`)
  }

  /** Closes the XMPP stream politely, then the connection; with `err`, reports it. */
  override end(err?: Error): void {
    if (this.isClosed) return
    this.send('</stream:stream>')
    if (err) this.fail(err)
    else super.end()
  }
}
