/**
 * The XML of an XMPP stream (RFC 6120 §11): one root `<stream:stream>` that stays open, whose
 * children (stanzas) are handed over whole. Only what XMPP allows is accepted: no comments,
 * processing instructions (but the XML declaration), DTDs, CDATA or entities other than the five
 * predefined and character references. A stanza or tag longer than the limit throws, so a peer
 * cannot make the parser hold more than that.
 */
import { RelayError } from '../base/errors.ts'

export interface XmlElement {
  /** Qualified name as written (`message`, `stream:features`). */
  name: string
  attrs: Record<string, string>
  children: XmlElement[]
  /** Character data directly inside, entities decoded. */
  text: string
}

export interface XmlStreamHandlers {
  streamOpen(attrs: Record<string, string>): void
  stanza(el: XmlElement): void
  streamClose(): void
}

const bad = (what: string) => new RelayError('E_XML', `malformed XMPP stream: ${what}`)
const ATTR = /\s*([^\s=/>]+)\s*=\s*(?:"([^"<]*)"|'([^'<]*)')/y
const NAME = /^[A-Za-z_][\w.:-]*$/

export function decodeEntities(s: string): string {
  if (!s.includes('&')) return s
  return s.replace(/&([^;&]{0,10});?/g, (m, ref: string) => {
    if (!m.endsWith(';')) throw bad(`'&' not starting an entity`)
    switch (ref) {
      case 'lt': return '<'
      case 'gt': return '>'
      case 'amp': return '&'
      case 'quot': return '"'
      case 'apos': return "'"
    }
    const code = /^#x[0-9a-fA-F]{1,6}$/.test(ref) ? Number.parseInt(ref.slice(2), 16) : /^#[0-9]{1,7}$/.test(ref) ? Number.parseInt(ref.slice(1), 10) : Number.NaN
    if (!(code >= 0x9 && code <= 0x10ffff)) throw bad(`entity '&${ref.slice(0, 10)};'`)
    return String.fromCodePoint(code)
  })
}

/** Text or an attribute value escaped for XML. */
export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!)
}

export class XmlStreamParser {
  private readonly handlers: XmlStreamHandlers
  private readonly maxStanza: number
  private buf = ''
  /** Open elements below the stream root. */
  private stack: XmlElement[] = []
  private open = false
  private closed = false
  private stanzaSize = 0

  constructor(handlers: XmlStreamHandlers, maxStanza: number) {
    this.handlers = handlers
    this.maxStanza = maxStanza
  }

  /** A new stream on the same connection (after SASL): the old root is forgotten. */
  reset(): void {
    this.buf = ''
    this.stack = []
    this.open = false
    this.closed = false
    this.stanzaSize = 0
  }

  push(text: string): void {
    if (this.closed) return
    this.buf += text
    let pos = 0
    const buf = this.buf
    while (pos < buf.length && !this.closed) {
      const lt = buf.indexOf('<', pos)
      const textEnd = lt < 0 ? buf.length : lt
      if (textEnd > pos) {
        // Text may be cut inside an entity: keep a trailing partial one for the next chunk.
        const amp = lt < 0 ? buf.lastIndexOf('&', textEnd) : -1
        const cut = amp >= pos && !buf.slice(amp, textEnd).includes(';') ? amp : textEnd
        this.text(buf.slice(pos, cut))
        pos = cut
        if (cut < textEnd || lt < 0) break
      }
      const end = tagEnd(buf, lt)
      if (end < 0) break
      this.tag(buf.slice(lt, end + 1))
      pos = end + 1
    }
    this.buf = buf.slice(pos)
    if (this.buf.length > this.maxStanza) throw bad(`a tag or text run of more than ${this.maxStanza} characters`)
  }

  private grow(n: number): void {
    if (this.stack.length === 0) return
    this.stanzaSize += n
    if (this.stanzaSize > this.maxStanza) throw bad(`a stanza of more than ${this.maxStanza} characters`)
  }

  private text(t: string): void {
    const top = this.stack[this.stack.length - 1]
    if (!top) {
      if (t.trim() !== '') throw bad('text outside a stanza')
      return
    }
    this.grow(t.length)
    top.text += decodeEntities(t)
  }

  private tag(tag: string): void {
    this.grow(tag.length)
    if (tag.startsWith('<?')) {
      if (this.open || !tag.startsWith('<?xml ') || !tag.endsWith('?>')) throw bad('a processing instruction')
      return
    }
    if (tag.startsWith('<!')) throw bad('a comment, DTD or CDATA section')
    if (tag.startsWith('</')) return this.close(tag.slice(2, -1).trim())
    const selfClosing = tag.endsWith('/>')
    const body = tag.slice(1, selfClosing ? -2 : -1)
    const nameEnd = body.search(/[\s]|$/)
    const name = body.slice(0, nameEnd)
    if (!NAME.test(name)) throw bad(`element name '${name.slice(0, 32)}'`)
    const attrs: Record<string, string> = {}
    ATTR.lastIndex = nameEnd
    let at = nameEnd
    for (let m = ATTR.exec(body); m; m = ATTR.exec(body)) {
      if (Object.hasOwn(attrs, m[1]!)) throw bad(`attribute '${m[1]!.slice(0, 32)}' twice`)
      attrs[m[1]!] = decodeEntities(m[2] ?? m[3] ?? '')
      at = ATTR.lastIndex
    }
    if (body.slice(at).trim() !== '') throw bad(`attributes of <${name}>`)
    if (!this.open) {
      if (name !== 'stream:stream' || selfClosing) throw bad(`<${name.slice(0, 32)}> before <stream:stream>`)
      this.open = true
      return this.handlers.streamOpen(attrs)
    }
    const el: XmlElement = { name, attrs, children: [], text: '' }
    const parent = this.stack[this.stack.length - 1]
    if (parent) parent.children.push(el)
    if (selfClosing) {
      if (!parent) this.emit(el)
    } else {
      this.stack.push(el)
    }
  }

  private close(name: string): void {
    if (this.stack.length === 0) {
      if (name !== 'stream:stream') throw bad(`</${name.slice(0, 32)}> with nothing open`)
      this.closed = true
      return this.handlers.streamClose()
    }
    const el = this.stack.pop()!
    if (el.name !== name) throw bad(`</${name.slice(0, 32)}> closes <${el.name}>`)
    if (this.stack.length === 0) this.emit(el)
  }

  private emit(el: XmlElement): void {
    this.stanzaSize = 0
    this.handlers.stanza(el)
  }
}

/** Where the tag starting at `lt` ends ('>' outside quotes), or -1 when it has not all arrived. */
function tagEnd(buf: string, lt: number): number {
  let quote = ''
  for (let i = lt + 1; i < buf.length; i++) {
    const c = buf[i]
    if (quote) {
      if (c === quote) quote = ''
    } else if (c === '"' || c === "'") {
      quote = c
    } else if (c === '>') {
      return i
    }
  }
  return -1
}

/** The first child named `name` (local name, any prefix) with namespace `xmlns` when given. */
export function child(el: XmlElement, name: string, xmlns?: string): XmlElement | undefined {
  return el.children.find((c) => (c.name === name || c.name.endsWith(`:${name}`)) && (xmlns === undefined || c.attrs.xmlns === xmlns))
}
