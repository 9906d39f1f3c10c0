import assert from 'node:assert/strict'
import { test } from '../harness.ts'
import { XmlStreamParser, child, escapeXml, type XmlElement } from '../../src/protocol/xml-stream.ts'
import { parseConnector, formatConnector } from '../../src/net/connector-string.ts'
import { fromBase64, toBase64 } from '../../src/base/base64.ts'

// The XMPP stream parser: stanzas whole whatever the chunking, and everything XMPP forbids refused
// with E_XML (the link then ends the stream), within a size bound.

function parse(chunks: string[], max = 10_000) {
  const stanzas: XmlElement[] = []
  const events: string[] = []
  const p = new XmlStreamParser({ streamOpen: (a) => events.push(`open ${a.to ?? ''}`), stanza: (s) => stanzas.push(s), streamClose: () => events.push('close') }, max)
  for (const c of chunks) p.push(c)
  return { stanzas, events }
}

const STREAM = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to="localhost" version='1.0'>`
const MESSAGE = `<message from='near@localhost/r' to="far@localhost"><f xmlns='urn:edgerelay:frame:1'>AAEC</f><body>a &lt;b&gt; &amp; &#x263a; &#65;</body><x a='&quot;q&apos;'/></message>`

test('stanzas arrive whole with attributes, children and decoded text, split at any character', () => {
  const all = `${STREAM}${MESSAGE}<presence/></stream:stream>`
  for (const step of [1, 3, 7, all.length]) {
    const chunks: string[] = []
    for (let i = 0; i < all.length; i += step) chunks.push(all.slice(i, i + step))
    const { stanzas, events } = parse(chunks)
    assert.deepEqual(events, ['open localhost', 'close'])
    assert.deepEqual(stanzas.map((s) => s.name), ['message', 'presence'])
    const m = stanzas[0]!
    assert.deepEqual(m.attrs, { from: 'near@localhost/r', to: 'far@localhost' })
    assert.equal(child(m, 'f', 'urn:edgerelay:frame:1')?.text, 'AAEC')
    assert.equal(child(m, 'body')?.text, 'a <b> & \u263a A')
    assert.equal(child(m, 'x')?.attrs.a, `"q'`)
  }
})

test('what XMPP forbids is refused with E_XML', () => {
  for (const bad of [
    '<!-- comment -->', '<!DOCTYPE x>', '<![CDATA[x]]>', '<?pi x?>', '<message>&foo;</message>', '<message>a & b</message>',
    '<message></presence>', '</message>', 'loose text', '<message a="1" a="2"/>', '<message a=1/>', '<1bad/>', '<message>&#0;</message>',
  ]) {
    assert.throws(() => parse([STREAM, bad]), { code: 'E_XML' }, bad)
  }
  assert.throws(() => parse(['<message/>']), { code: 'E_XML' }, 'a stanza before the stream header')
})

test('a stanza, a tag or a text run over the limit throws instead of growing', () => {
  assert.throws(() => parse([STREAM, `<message><body>${'x'.repeat(2000)}</body></message>`], 1000), { code: 'E_XML' })
  assert.throws(() => parse([STREAM, `<message a='${'x'.repeat(2000)}`], 1000), { code: 'E_XML' })
  assert.throws(() => parse([STREAM, '<message>', ...Array.from({ length: 30 }, () => '<a/>'.repeat(10))], 1000), { code: 'E_XML' })
})

test('escaping, base64 and xmpp/client connector strings', () => {
  assert.equal(escapeXml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;')
  const bytes = Uint8Array.from({ length: 70_000 }, (_, i) => i & 0xff)
  assert.deepEqual(fromBase64(toBase64(bytes)), bytes)
  for (const bad of ['AAE', 'AA=A', 'AA AA', '****']) assert.equal(fromBase64(bad), undefined, bad)
  const spec = parseConnector('xmpp/client:Near@Example.org,to=far@example.org,server=127.0.0.1:5333')
  assert.equal(spec.jid, 'near@example.org')
  assert.deepEqual([spec.endpoint?.host, spec.endpoint?.port], ['example.org', 5223])
  assert.deepEqual(spec.options, { to: 'far@example.org', server: '127.0.0.1:5333' })
  assert.equal(formatConnector(spec), 'xmpp/client:near@example.org:5223,server=127.0.0.1:5333,to=far@example.org')
  assert.deepEqual(parseConnector(formatConnector(spec)).jid, spec.jid)
  assert.throws(() => parseConnector('xmpp/client:example.org'), { code: 'E_CONNECTOR_PARSE' })
  assert.throws(() => parseConnector('xmpp/client:a<b@example.org'), { code: 'E_CONNECTOR_PARSE' })
  assert.throws(() => parseConnector('xmpp/server:a@example.org'), { code: 'E_CONNECTOR_PARSE' })
})
