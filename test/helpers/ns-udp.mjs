#!/usr/bin/env node
/**
 * UDP peers for tests that run inside a network namespace (started there with nsenter), in plain
 * JavaScript for the machine's node:
 *   node ns-udp.mjs echo <port>            answers every datagram with "reply:" + data; prints "ready"
 *   node ns-udp.mjs pinger <port> <ms>     sends "req<N>" to 127.0.0.1:<port> every <ms>; prints "got <N>" per reply
 * Both stop by themselves after 60 s (and are killed by the test long before).
 */
import dgram from 'node:dgram'

const [mode, portText, everyText] = process.argv.slice(2)
const port = Number(portText)
const socket = dgram.createSocket('udp4')
setTimeout(() => process.exit(0), 60_000).unref()

if (mode === 'echo') {
  socket.on('message', (msg, rinfo) => socket.send(Buffer.concat([Buffer.from('reply:'), msg]), rinfo.port, rinfo.address))
  socket.bind(port, '127.0.0.1', () => console.log('ready'))
} else if (mode === 'pinger') {
  let n = 0
  socket.on('message', (msg) => {
    const m = /^reply:req(\d+)$/.exec(msg.toString())
    if (m) console.log(`got ${m[1]}`)
  })
  socket.bind(0, '127.0.0.1', () => {
    console.log('ready')
    setInterval(() => socket.send(`req${n++}`, port, '127.0.0.1'), Number(everyText))
  })
} else {
  console.error(`usage: ns-udp.mjs echo <port> | pinger <port> <ms>`)
  process.exit(2)
}
