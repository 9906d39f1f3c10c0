#!/usr/bin/env node
/**
 * Plain UDP peers for namespace tests, run with the machine's node inside a namespace:
 *   node peer.mjs echo <address> <port>               answers "reply:" + data; prints "ready"
 *   node peer.mjs ask <bind> <address> <port> <text>  one request from <bind>; prints the reply as
 *                                                     JSON {reply, from}, or null after 1.5 s
 * Both end by themselves (echo after 60 s).
 */
import dgram from 'node:dgram'

const [mode, ...args] = process.argv.slice(2)
if (mode === 'echo') {
  const [address, port] = args
  const s = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4')
  s.on('message', (msg, r) => s.send(Buffer.concat([Buffer.from('reply:'), msg]), r.port, r.address))
  s.bind(Number(port), address, () => console.log('ready'))
  setTimeout(() => process.exit(0), 60_000).unref()
} else if (mode === 'ask') {
  const [bind, address, port, text] = args
  const s = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4')
  const timer = setTimeout(() => {
    console.log('null')
    process.exit(0)
  }, 1500)
  s.on('message', (msg, r) => {
    clearTimeout(timer)
    console.log(JSON.stringify({ reply: msg.toString(), from: r.address }))
    process.exit(0)
  })
  s.bind(0, bind, () => s.send(text, Number(port), address))
} else {
  console.error('usage: peer.mjs echo <address> <port> | ask <bind> <address> <port> <text>')
  process.exit(2)
}
