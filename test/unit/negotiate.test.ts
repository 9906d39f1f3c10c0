import assert from 'node:assert/strict'
import { bearerToken, negotiateWebSocket, subprotocolFor, tokenSubprotocol } from '../../src/protocol/negotiate.ts'
import { test } from '../harness.ts'

test('negotiateWebSocket accepts edgerelay.v1.<codec> wherever it is in the offer and answers with it alone', () => {
  assert.deepEqual(negotiateWebSocket('chat, edgerelay.v1.avro', null, 'avro', undefined), { ok: true, protocol: 'edgerelay.v1.avro' })
  assert.deepEqual(negotiateWebSocket(`${tokenSubprotocol('t')}, edgerelay.v1.protobuf`, null, 'protobuf', 't'), { ok: true, protocol: 'edgerelay.v1.protobuf' })
  assert.equal(subprotocolFor('msgpack'), 'edgerelay.v1.msgpack')
})

test('negotiateWebSocket refuses with a status, a code and a reason', () => {
  const cases: [string | null, string | null, string, string | undefined, number, string][] = [
    [null, null, 'protobuf', undefined, 400, 'E_WS_PROTOCOL'],
    ['chat', null, 'protobuf', undefined, 400, 'E_WS_PROTOCOL'],
    ['edgerelay.v1.avro, edgerelay.v1.msgpack', null, 'protobuf', undefined, 400, 'E_CODEC_MISMATCH'],
    ['edgerelay.v9.protobuf', null, 'protobuf', undefined, 400, 'E_VERSION_MISMATCH'],
    ['edgerelay.v1.protobuf', null, 'protobuf', 'secret', 401, 'E_AUTH'],
    ['edgerelay.v1.protobuf', 'Bearer other', 'protobuf', 'secret', 401, 'E_AUTH'],
    ['edgerelay.v1.protobuf', 'Basic c2VjcmV0', 'protobuf', 'secret', 401, 'E_AUTH'],
    [`edgerelay.v1.protobuf, ${tokenSubprotocol('secreT')}`, null, 'protobuf', 'secret', 401, 'E_AUTH'],
    ['edgerelay.v1.protobuf, edgerelay.token.!!!', null, 'protobuf', 'secret', 401, 'E_AUTH'],
  ]
  for (const [protocols, auth, codec, token, status, code] of cases) {
    const r = negotiateWebSocket(protocols, auth, codec, token)
    assert.equal(r.ok, false, `${protocols} / ${auth}`)
    if (!r.ok) {
      assert.equal(r.status, status, `${protocols} / ${auth}`)
      assert.equal(r.code, code, `${protocols} / ${auth}`)
      assert.ok(r.reason.length > 10)
    }
  }
})

test('tokens survive the subprotocol entry (base64url, token characters only) and the Bearer header', () => {
  for (const token of ['a', 'pässwörd', 'with spaces/and=signs+', '🔑'.repeat(20)]) {
    const entry = tokenSubprotocol(token)
    assert.match(entry, /^edgerelay\.token\.[A-Za-z0-9_-]+$/)
    assert.deepEqual(negotiateWebSocket(`edgerelay.v1.protobuf, ${entry}`, null, 'protobuf', token), { ok: true, protocol: 'edgerelay.v1.protobuf' })
  }
  assert.equal(bearerToken('Bearer abc def'), 'abc def')
  assert.equal(bearerToken('bearer   x  '), 'x')
  assert.equal(bearerToken(undefined), undefined)
})
