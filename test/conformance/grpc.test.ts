import assert from 'node:assert/strict'
import http2 from 'node:http2'
import { protobufCodec } from '../../src/protocol/codecs/protobuf.ts'
import { codecOfContentType, decodeGrpcMessage, encodeGrpcMessage } from '../../src/connectors/grpc.ts'
import { Kind, type Frame } from '../../src/protocol/frame.ts'
import { grpcWire } from '../../src/protocol/wire.ts'
import { test } from '../harness.ts'
import { half } from '../helpers/halves.ts'
import { echoDevice, text } from '../helpers/udp.ts'

// What only gRPC has, on this runtime: a hand-driven node:http2 client checks the gRPC surface
// (framing, trailers, status codes for refusals). What every transport does is in
// transports.test.ts.
const wire = grpcWire(protobufCodec)
const enc = new TextEncoder()

async function grpcFar(t: Parameters<typeof half>[0], opts: { codec?: string; token?: string; udpTimeout?: string } = {}) {
  const device = await echoDevice(t)
  const far = await half(t, { in: 'grpc/server:127.0.0.1:0', out: `udp/broadcast:127.0.0.1:${device.port}`, codec: opts.codec, token: opts.token, udpTimeout: opts.udpTimeout })
  return { far, port: far.inAddresses()[0]!.port }
}

interface CallResult {
  headers: Record<string, unknown>
  trailers: Record<string, unknown>
  frames: Frame[]
}

/** One Relay call with raw node:http2: sends `frames`, half-closes, collects until the server ends. */
function rawCall(t: Parameters<typeof half>[0], port: number, frames: Frame[], headers: Record<string, string> = {}): Promise<CallResult> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`)
    t.defer(() => session.destroy())
    session.on('error', reject)
    const req = session.request({ ':method': 'POST', ':path': '/edgerelay.v1.Tunnel/Relay', 'content-type': 'application/grpc', te: 'trailers', ...headers })
    const result: CallResult = { headers: {}, trailers: {}, frames: [] }
    const reader = wire.reader((f) => result.frames.push({ ...f, payload: f.payload.slice() }), Kind.reply)
    req.on('response', (h) => (result.headers = h))
    req.on('trailers', (h) => (result.trailers = h))
    req.on('data', (d: Uint8Array) => reader.push(d))
    req.on('close', () => {
      session.close()
      resolve(result)
    })
    req.on('error', () => {})
    for (const f of frames) req.write(wire.encode(f))
    req.end()
  })
}

test('a gRPC call that half-closes after its requests gets every reply, then status OK in the trailers', async (t) => {
  const { port } = await grpcFar(t, { udpTimeout: '300ms' })
  const requests = [1, 2, 3].map((i) => ({ flow: 4 + i, id: i, kind: Kind.request, payload: enc.encode(`q${i}`) }) as Frame)
  const r = await rawCall(t, port, requests)
  assert.equal(r.headers[':status'], 200)
  assert.equal(r.headers['content-type'], 'application/grpc+proto')
  assert.equal(r.trailers['grpc-status'], '0')
  assert.deepEqual(r.frames.map((f) => `${f.flow}/${f.id}/${f.kind}/${text(f.payload)}`).sort(), ['5/1/2/reply0:q1', '6/2/2/reply0:q2', '7/3/2/reply0:q3'])
})

const refusals: { name: string; headers: Record<string, string>; status: string; code: string; message: RegExp }[] = [
  { name: 'no token', headers: {}, status: '16', code: 'E_AUTH', message: /a token is required/ },
  { name: 'a wrong token', headers: { authorization: 'Bearer nope' }, status: '16', code: 'E_AUTH', message: /wrong token/ },
  { name: 'another codec', headers: { authorization: 'Bearer gt', 'content-type': 'application/grpc+avro' }, status: '3', code: 'E_CODEC_MISMATCH', message: /this half speaks 'protobuf'/ },
  { name: 'another method', headers: { authorization: 'Bearer gt', ':path': '/edgerelay.v1.Tunnel/Nope' }, status: '12', code: 'E_GRPC_METHOD', message: /unknown method/ },
  { name: 'compression', headers: { authorization: 'Bearer gt', 'grpc-encoding': 'gzip' }, status: '12', code: 'E_GRPC_COMPRESSED', message: /not supported/ },
]

for (const r of refusals) {
  test(`a gRPC call with ${r.name} ends at once with grpc-status ${r.status} and a reason`, async (t) => {
    const { far, port } = await grpcFar(t, { token: 'gt' })
    const res = await rawCall(t, port, [{ flow: 1, id: 1, kind: Kind.request, payload: enc.encode('x') }], r.headers)
    // Trailers-Only: the status is in the response headers.
    assert.equal(res.headers['grpc-status'], r.status)
    assert.equal(res.headers['x-edgerelay-error'], r.code)
    assert.match(decodeGrpcMessage(res.headers['grpc-message'] as string), r.message)
    assert.equal(res.frames.length, 0)
    assert.equal(far.stats.get('tunnel.refused'), 1)
  })
}

test('gRPC helpers: content-types map to codecs, grpc-message is percent-encoded both ways', () => {
  assert.equal(codecOfContentType('application/grpc'), 'protobuf')
  assert.equal(codecOfContentType('application/grpc+proto'), 'protobuf')
  assert.equal(codecOfContentType('application/grpc+avro; charset=x'), 'avro')
  assert.equal(codecOfContentType('application/json'), undefined)
  const text = 'wrong token: 100% sûr\n'
  assert.match(encodeGrpcMessage(text), /^[\x20-\x7e]+$/)
  assert.equal(decodeGrpcMessage(encodeGrpcMessage(text)), text)
})

