#!/usr/bin/env node
/**
 * The least a two-process UDP-over-TCP tunnel can be in JavaScript: node:dgram and node:net (which
 * Node, Bun and Deno all have), a 2-byte length per frame, TCP_NODELAY, one client, no codec, no
 * flows, no hello, no heartbeat, no error handling. A reference for bench/latency-floor.mjs, not a
 * relay: it shows what the runtime and two processes cost before edgerelay does anything.
 *
 *   bare-tunnel.mjs near UDP_PORT TUNNEL_PORT     listens for the client, dials the far end
 *   bare-tunnel.mjs far TUNNEL_PORT TARGET_PORT   accepts the near end, relays to 127.0.0.1:TARGET_PORT
 */
import dgram from 'node:dgram'
import net from 'node:net'

const [role, a, b] = process.argv.slice(2)
const HOST = '127.0.0.1'

/** Splits a TCP byte stream into frames. */
function frames(onFrame) {
  let pending = Buffer.alloc(0)
  return (chunk) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk
    while (pending.length >= 2) {
      const n = pending.readUInt16BE(0)
      if (pending.length < 2 + n) break
      onFrame(pending.subarray(2, 2 + n))
      pending = pending.subarray(2 + n)
    }
  }
}

function frame(data) {
  const out = Buffer.allocUnsafe(2 + data.length)
  out.writeUInt16BE(data.length, 0)
  data.copy(out, 2)
  return out
}

if (role === 'near') {
  const udp = dgram.createSocket('udp4')
  let client
  const tcp = net.connect({ port: Number(b), host: HOST, noDelay: true }, () => udp.bind(Number(a), HOST))
  tcp.setNoDelay(true)
  tcp.on('data', frames((f) => client && udp.send(f, client.port, client.address)))
  udp.on('message', (msg, from) => {
    client = from
    tcp.write(frame(msg))
  })
} else if (role === 'far') {
  net.createServer({ noDelay: true }, (tcp) => {
    tcp.setNoDelay(true)
    const udp = dgram.createSocket('udp4')
    udp.bind(0, HOST)
    udp.on('message', (msg) => tcp.write(frame(msg)))
    tcp.on('data', frames((f) => udp.send(f, Number(b), HOST)))
    tcp.on('close', () => udp.close())
  }).listen(Number(a), HOST)
} else {
  console.error('usage: bare-tunnel.mjs near UDP_PORT TUNNEL_PORT | far TUNNEL_PORT TARGET_PORT')
  process.exit(2)
}
