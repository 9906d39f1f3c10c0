#!/usr/bin/env node
/**
 * The TCP programs bench/streams.mjs measures streams with, each its own process (so their CPU
 * time is not the halves'). Every mode prints one JSON line when done (servers: when listening).
 *
 *   source  --port P                 server: sends bytes as fast as each connection takes them
 *   echo    --port P                 server: echoes every byte
 *   greet   --port P                 server: writes 'hi' the moment a connection is accepted
 *   readers --port P --streams 7 --stalled 1 --seconds 5 [--hold]
 *                                    opens streams+stalled connections to a source; the stalled ones
 *                                    never read; prints bytes read by the others in the window
 *                                    (--hold: then keeps everything open until a line on stdin)
 *   rtt     --port P --streams 1000 --rounds 100 [--size 64]
 *                                    opens the connections, prints {"open":N} and waits idle for a
 *                                    line on stdin; then every connection does `rounds` echo round
 *                                    trips, all at once; prints p50/p99
 *   ttfb    --port P --count 200     connects `count` times one after another; time to the first byte
 *   socks-ttfb --port P --target T --count 200 [--pipelined]
 *                                    the same through a SOCKS5 proxy on P, as curl talks to one: the
 *                                    greeting, its answer, CONNECT 127.0.0.1:T, the reply; the time
 *                                    runs from the connect to the server's first byte after the reply
 *                                    (--pipelined: greeting and CONNECT in one write, not waiting)
 *   ping    --port P --count 500     one connection, `count` 1-byte echo round trips; the median
 */
import net from 'node:net'
import { arg } from './script-tools.mjs'

const mode = process.argv[2]
const port = Number(arg('port', '0'))
const host = '127.0.0.1'
const print = (o) => process.stdout.write(`${JSON.stringify(o)}\n`)
const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
const ms = (ns) => Number(ns) / 1e6

function serve(onSocket) {
  const server = net.createServer({ allowHalfOpen: false, noDelay: true }, (s) => {
    s.on('error', () => {})
    onSocket(s)
  })
  server.listen(port, host, () => print({ listening: server.address().port }))
}

function connect() {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host, noDelay: true })
    s.once('connect', () => resolve(s))
    s.once('error', reject)
  })
}

switch (mode) {
  case 'source': {
    const chunk = Buffer.alloc(128 * 1024, 0x61)
    serve((s) => {
      const more = () => {
        while (!s.destroyed && s.write(chunk));
      }
      s.on('drain', more)
      more()
    })
    break
  }
  case 'echo':
    serve((s) => s.on('data', (d) => s.write(d)))
    break
  case 'greet':
    serve((s) => s.end('hi'))
    break
  case 'readers': {
    const streams = Number(arg('streams', '7'))
    const stalled = Number(arg('stalled', '0'))
    const seconds = Number(arg('seconds', '5'))
    const idle = []
    for (let i = 0; i < stalled; i++) {
      const s = await connect()
      s.pause()
      idle.push(s)
    }
    const readers = await Promise.all(Array.from({ length: streams }, connect))
    let counting = false
    let bytes = 0
    for (const r of readers) r.on('data', (d) => (counting ? (bytes += d.length) : 0))
    await new Promise((r) => setTimeout(r, 500)) // every reader under way
    counting = true
    const t0 = process.hrtime.bigint()
    await new Promise((r) => setTimeout(r, seconds * 1000))
    counting = false
    const elapsed = Number(process.hrtime.bigint() - t0) / 1e9
    const stalledRead = idle.reduce((n, s) => n + s.bytesRead, 0)
    print({ bytes, seconds: elapsed, mbps: (bytes * 8) / elapsed / 1e6, stalledBytesRead: stalledRead })
    // --hold: the stalled connections stay open (the readers keep reading) until a line on stdin.
    if (process.argv.includes('--hold')) await new Promise((resolve) => process.stdin.once('data', resolve))
    for (const s of [...readers, ...idle]) s.destroy()
    process.exit(0)
  }
  case 'rtt': {
    const streams = Number(arg('streams', '1000'))
    const rounds = Number(arg('rounds', '100'))
    const msg = Buffer.alloc(Number(arg('size', '64')), 0x62)
    const sockets = []
    // Open in batches: the OS listen backlog is finite. Then wait, idle, for the go on stdin (the
    // bench measures the halves' memory per open idle stream meanwhile).
    for (let i = 0; i < streams; i += 100) sockets.push(...(await Promise.all(Array.from({ length: Math.min(100, streams - i) }, connect))))
    print({ open: sockets.length })
    await new Promise((resolve) => process.stdin.once('data', resolve))
    const samples = []
    const t0 = process.hrtime.bigint()
    await Promise.all(sockets.map((s) => new Promise((resolve, reject) => {
      let left = rounds
      let got = 0
      let sent = process.hrtime.bigint()
      s.on('error', reject)
      s.on('data', (d) => {
        got += d.length
        if (got < msg.length) return
        got -= msg.length
        const now = process.hrtime.bigint()
        samples.push(ms(now - sent))
        if (--left === 0) return resolve()
        sent = now
        s.write(msg)
      })
      s.write(msg)
    })))
    const wall = Number(process.hrtime.bigint() - t0) / 1e9
    samples.sort((a, b) => a - b)
    print({ streams, rounds, completed: samples.length, p50: quantile(samples, 0.5), p99: quantile(samples, 0.99), max: samples.at(-1), seconds: wall })
    for (const s of sockets) s.destroy()
    break
  }
  case 'ttfb': {
    const count = Number(arg('count', '200'))
    const samples = []
    for (let i = 0; i < count; i++) {
      const t0 = process.hrtime.bigint()
      const s = net.connect({ port, host, noDelay: true })
      await new Promise((resolve, reject) => {
        s.once('data', () => {
          samples.push(ms(process.hrtime.bigint() - t0))
          resolve()
        })
        s.once('error', reject)
      })
      s.destroy()
    }
    samples.sort((a, b) => a - b)
    print({ count, p50: quantile(samples, 0.5), p99: quantile(samples, 0.99) })
    break
  }
  case 'socks-ttfb': {
    const count = Number(arg('count', '200'))
    const target = Number(arg('target', '0'))
    const request = Buffer.from([5, 1, 0, 1, 127, 0, 0, 1, target >> 8, target & 0xff])
    const pipelined = process.argv.includes('--pipelined')
    const samples = []
    for (let i = 0; i < count; i++) {
      const t0 = process.hrtime.bigint()
      const s = net.connect({ port, host, noDelay: true })
      await new Promise((resolve, reject) => {
        let got = Buffer.alloc(0)
        s.on('data', (d) => {
          got = Buffer.concat([got, d])
          if (got.length === 2 && got[1] === 0 && !pipelined) s.write(request)
          if (got.length > 2 + 10) {
            samples.push(ms(process.hrtime.bigint() - t0))
            resolve()
          } else if (got.length >= 4 && got[3] !== 0) {
            reject(new Error(`SOCKS5 reply ${got[3]}`))
          }
        })
        s.once('connect', () => s.write(pipelined ? Buffer.concat([Buffer.from([5, 1, 0]), request]) : Buffer.from([5, 1, 0])))
        s.once('error', reject)
      })
      s.destroy()
    }
    samples.sort((a, b) => a - b)
    print({ count, p50: quantile(samples, 0.5), p99: quantile(samples, 0.99) })
    break
  }
  case 'ping': {
    const count = Number(arg('count', '500'))
    const s = await connect()
    const samples = []
    for (let i = 0; i < count; i++) {
      const t0 = process.hrtime.bigint()
      await new Promise((resolve) => {
        s.once('data', resolve)
        s.write('x')
      })
      samples.push(ms(process.hrtime.bigint() - t0))
    }
    s.destroy()
    samples.sort((a, b) => a - b)
    print({ count, p50: quantile(samples, 0.5), p99: quantile(samples, 0.99) })
    break
  }
  default:
    console.error('usage: node bench/stream-peers.mjs source|echo|greet|readers|rtt|ttfb|ping --port P [...]')
    process.exit(2)
}
