import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import process from 'node:process'
import { runtime } from '#runtime'
import { protobufCodec } from '../../src/protocol/codecs/protobuf.ts'
import { Kind } from '../../src/protocol/frame.ts'
import { lengthPrefixedWire } from '../../src/protocol/wire.ts'
import { xmppLogin, FRAME_NS } from '../../src/connectors/xmpp-link.ts'
import { test, waitFor } from '../harness.ts'
import { testCerts } from '../helpers/certs.ts'
import { digThroughCliHalves } from '../helpers/cli-dig.ts'
import { half } from '../helpers/halves.ts'
import { startProsody, type Prosody } from '../helpers/prosody.ts'
import { echoDevice, text, udpPeer } from '../helpers/udp.ts'

// xmpp/client on both halves through Debian's prosody on loopback (accounts made by the test,
// direct TLS with the test CA): dig end to end, a third account's frames dropped and counted,
// malformed stanzas from the peer dropped, refusals (password, certificate) reported.

const ACCOUNTS = { near: 'near-pw', far: 'far-pw', mallory: 'mallory-pw' }
const wire = lengthPrefixedWire(protobufCodec)
const enc = new TextEncoder()

const at = (p: Prosody, jid: string, peer: string) => `xmpp/client:${jid}@localhost,${peer},server=127.0.0.1:${p.port}`

async function xmppPair(t: Parameters<typeof half>[0], p: Prosody) {
  const device = await echoDevice(t)
  const tls = { caCert: testCerts().pem.ca }
  const far = await half(t, { in: at(p, 'far', 'from=near@localhost'), out: `udp/broadcast:127.0.0.1:${device.port}`, tls, xmppPassword: ACCOUNTS.far })
  const near = await half(t, { in: 'udp/listen:127.0.0.1:0', out: at(p, 'near', 'to=far@localhost'), tls, xmppPassword: ACCOUNTS.near })
  await waitFor(() => far.stats.get('tunnel.connected') === 1 && near.stats.get('tunnel.connected') === 1, 'both halves logged in', 10_000)
  return { far, near, device }
}

/** Logs in as `user` with our client and hands back a raw stanza sender (tests only). */
async function rawAccount(p: Prosody, user: keyof typeof ACCOUNTS, peer: string) {
  const tls = await runtime.connectTls!({ address: '127.0.0.1', port: p.port, tls: { ca: testCerts().pem.ca, servername: 'localhost', handshakeTimeoutMs: 5000 } })
  const drops = { drop() {} } as unknown as Parameters<typeof xmppLogin>[1]['drops']
  const conn = await xmppLogin(tls, { jid: { local: user, domain: 'localhost' }, password: ACCOUNTS[user], peer: { local: peer, domain: 'localhost' }, timeoutMs: 5000, drops })
  conn.setHandlers({ onData() {}, onClose() {} })
  return { conn, raw: (xml: string) => (conn as unknown as { send(x: string): boolean }).send(xml) }
}

const requestFrame = (payload: string) => wire.encode({ flow: 9, id: 1, kind: Kind.request, payload: enc.encode(payload) })

async function roundTrip(t: Parameters<typeof half>[0], nearPort: number, payload: string) {
  const client = await udpPeer(t)
  client.send(payload, nearPort)
  await client.waitCount(1, 8000)
  return text(client.received[0]!.data)
}

test('dig through CLI halves over XMPP (prosody): password from a file and from the environment', async (t) => {
  const p = await startProsody(t, ACCOUNTS)
  const farPassword = join(p.dir, 'far.password')
  writeFileSync(farPassword, `${ACCOUNTS.far}\n`)
  // The far half reads its file (which wins over the environment), the near half the environment.
  process.env.EDGERELAY_XMPP_PASSWORD = ACCOUNTS.near
  t.defer(() => delete process.env.EDGERELAY_XMPP_PASSWORD)
  await digThroughCliHalves(t, () => at(p, 'far', 'from=near@localhost'), () => at(p, 'near', 'to=far@localhost'), ['--ca-cert', testCerts().files.ca], { farArgs: ['--xmpp-password-file', farPassword], farReady: /connected to/ })
}, { timeout: 40_000 })

test('a third account\'s frames (even claiming to be near) are dropped and counted; near\'s get through', async (t) => {
  const p = await startProsody(t, ACCOUNTS)
  const { far, near, device } = await xmppPair(t, p)
  const mallory = await rawAccount(p, 'mallory', 'far')
  for (let i = 0; i < 3; i++) mallory.conn.write(requestFrame(`forged ${i}`))
  mallory.raw(`<message to='far@localhost' from='near@localhost/x'><f xmlns='${FRAME_NS}'>${btoa(String.fromCharCode(...requestFrame('spoofed from')))}</f></message>`)
  await waitFor(() => far.stats.get('dropped.xmpp_forged') >= 4, 'four forged stanzas counted', 8000)
  assert.equal(await roundTrip(t, near.inAddresses()[0]!.port, 'genuine'), 'reply0:genuine')
  assert.deepEqual(device.received.map((r) => text(r.data)), ['genuine'])
  assert.equal(far.stats.get('dropped.xmpp_forged'), 4)
}, { timeout: 40_000 })

test('malformed stanzas from the peer account are dropped and counted, the tunnel stays up', async (t) => {
  const p = await startProsody(t, ACCOUNTS)
  const { far, near } = await xmppPair(t, p)
  const peer = await rawAccount(p, 'near', 'far')
  peer.raw(`<message to='far@localhost'><f xmlns='${FRAME_NS}'>not base64!</f></message>`)
  peer.raw(`<message to='far@localhost'><body>hello, a chat message</body></message>`)
  peer.raw(`<message to='far@localhost'><f xmlns='urn:something:else'>AAAA</f></message>`)
  await waitFor(() => far.stats.get('dropped.xmpp_malformed') === 1 && far.stats.get('dropped.xmpp_no_frame') === 2, 'the three drops', 8000)
  assert.equal(await roundTrip(t, near.inAddresses()[0]!.port, 'after junk'), 'reply0:after junk')
  assert.equal(far.stats.get('tunnel.connected'), 1)
}, { timeout: 40_000 })

test('a wrong password and a certificate from another CA stop the login with their reasons', async (t) => {
  const p = await startProsody(t, ACCOUNTS)
  const wrong = await half(t, { in: 'udp/listen:127.0.0.1:0', out: at(p, 'near', 'to=far@localhost'), tls: { caCert: testCerts().pem.ca }, xmppPassword: 'nope' })
  await waitFor(() => wrong.lines.some((l) => /refused the login of near@localhost: not-authorized/.test(l)), 'E_AUTH', 10_000)
  const rogue = await half(t, { in: 'udp/listen:127.0.0.1:0', out: at(p, 'near', 'to=far@localhost'), tls: { caCert: testCerts().pem.rogueCa }, xmppPassword: ACCOUNTS.near })
  await waitFor(() => rogue.lines.some((l) => /certificate|self.signed|verify|UnknownIssuer/i.test(l)), 'a certificate error', 10_000)
  assert.equal(rogue.stats.get('tunnel.connected'), 0)
}, { timeout: 40_000 })

test('xmpp/client configuration mistakes are refused at start', async (t) => {
  const base = { in: 'udp/listen:127.0.0.1:0', xmppPassword: 'x' }
  for (const [out, extra, message] of [
    ['xmpp/client:near@localhost', {}, /needs the peer's JID/],
    ['xmpp/client:near@localhost,to=far@localhost,from=x@localhost', {}, /give the peer once/],
    ['xmpp/client:near@localhost,to=near@localhost', {}, /another account/],
    ['xmpp/client:near@localhost,to=far', {}, /not a JID/],
    ['xmpp/client:near@localhost,to=far@localhost,port=1', {}, /unknown option 'port'/],
    ['xmpp/client:near@localhost,to=far@localhost', { token: 't' }, /--token is not used by xmpp/],
    ['xmpp/client:near@localhost,to=far@localhost', { xmppPassword: undefined }, /needs the account's password/],
    ['xmpp/client:near@localhost,to=far@localhost', { codec: 'uhppoted' }, /xmpp carries edgerelay codecs/],
  ] as const) {
    await assert.rejects(half(t, { ...base, out, ...extra }), message, out)
  }
  await assert.rejects(half(t, { ...base, out: 'xmpp/client:localhost:5223' }), /takes the account's JID/)
})
