#!/usr/bin/env node
/**
 * Closed-loop DNS latency: one query outstanding, the next sent the moment the reply arrives,
 * for a fixed time. This is what `dnsperf -q 1` means to do; dnsperf itself paces erratically at
 * -q 1 (a race between its threads, see BENCHMARKS.md), so the idle gaps between its queries, and
 * with them how deeply the CPUs sleep between queries, differ from path to path and run to run.
 * On this 2-vCPU VM a wake-up after a longer gap costs more, so only an equal cadence on every
 * path compares relays fairly.
 *
 *   node bench/udp-ping.mjs PORT [SECONDS]     prints one JSON line: samples, lost, medianMs, p99Ms
 */
import dgram from 'node:dgram'
import { dnsQuery } from '../test/helpers/dnsmasq.mjs'

const port = Number(process.argv[2])
const seconds = Number(process.argv[3] ?? 2)
if (!port) throw new Error('usage: udp-ping.mjs PORT [SECONDS]')
/** host.example A, which the bench's dnsmasq answers; the first two bytes (the id) change per query. */
const query = dnsQuery(0, 'host.example')
/** A query with no reply within this is lost, and the loop goes on with the next. */
const LOST_MS = 1000

const socket = dgram.createSocket('udp4')
await new Promise((resolve) => socket.bind(0, '127.0.0.1', resolve))
const samples = []
let lost = 0
let id = 0
let sentAt = 0n
let timer
const end = performance.now() + seconds * 1000

await new Promise((resolve) => {
  const next = () => {
    clearTimeout(timer)
    if (performance.now() >= end) return resolve()
    id = (id + 1) & 0xffff
    query.writeUInt16BE(id, 0)
    sentAt = process.hrtime.bigint()
    socket.send(query, port, '127.0.0.1')
    timer = setTimeout(() => {
      lost++
      next()
    }, LOST_MS)
  }
  socket.on('message', (msg) => {
    if (msg.length < 2 || msg.readUInt16BE(0) !== id) return
    samples.push(Number(process.hrtime.bigint() - sentAt) / 1e6)
    next()
  })
  next()
})
socket.close()
samples.sort((a, b) => a - b)
const at = (q) => samples[Math.min(samples.length - 1, Math.floor(samples.length * q))] ?? null
console.log(JSON.stringify({ samples: samples.length, lost, medianMs: at(0.5), p99Ms: at(0.99) }))
