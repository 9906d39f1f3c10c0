/** An option a connector does not act on is refused at start, naming the ones it takes: never accepted and ignored. */
import assert from 'node:assert/strict'
import { test } from '../harness.ts'
import { half } from '../helpers/halves.ts'

const cases: [string, string, RegExp][] = [
  ['tcp/server:127.0.0.1:0,foo', 'udp/broadcast:127.0.0.1:9', /unknown option ',foo' for tcp\/server \(it takes ,ipv6only ,starttls\)/],
  ['udp/listen:127.0.0.1:0', 'tcp/client:127.0.0.1:9,bar=1', /unknown option ',bar' for tcp\/client \(it takes ,bind ,sourceport ,attempt-delay/],
  ['udp/listen:127.0.0.1:0,sourceport=9', 'udp/broadcast:127.0.0.1:9', /unknown option ',sourceport' for udp\/listen/],
  ['udp/listen:127.0.0.1:0', 'udp/broadcast:127.0.0.1:9,rescan=1s', /unknown option ',rescan' for udp\/broadcast/],
  ['http/127.0.0.1:0,x', 'udp/broadcast:127.0.0.1:9', /unknown option '(,)?x' for http/],
  ['tcp/listen:127.0.0.1:0,attempt-delay=100', 'tcp/connect:127.0.0.1:9', /unknown option ',attempt-delay' for tcp\/listen/],
]

test('an option a connector does not act on is refused at start with the options it takes', async (t) => {
  for (const [inText, outText, message] of cases) {
    await assert.rejects(half(t, { in: inText, out: outText }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'E_CONFIG', `${inText} → ${outText}: ${err.message}`)
      assert.match(err.message, message)
      return true
    }, `${inText} → ${outText}`)
  }
})

test('the options a connector does act on are accepted (positive control for the refusals above)', async (t) => {
  const h = await half(t, { in: 'udp/listen:127.0.0.1:0', out: 'tcp/client:127.0.0.1:9,attempt-delay=100,connections=2' })
  assert.ok(h.inAddresses().length > 0)
  const s = await half(t, { in: 'tcp/server:127.0.0.1:0,ipv6only=0', out: 'udp/broadcast:127.0.0.1:9,bind=127.0.0.1' })
  assert.ok(s.inAddresses().length > 0)
})
