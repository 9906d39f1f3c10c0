#!/usr/bin/env node
/**
 * Summarises V8 .cpuprofile files (from `node --cpu-prof`): self time per function, heaviest first.
 *
 *   node bench/profile-summary.mjs file.cpuprofile [--top 20]
 *
 * `npm run bench -- --cpu-prof --only node,protobuf` runs the Node halves under --cpu-prof and
 * prints this summary for each of them.
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/** Self time per function (ms and share of all samples), heaviest first. */
export function summarise(file) {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8'))
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const selfUs = new Map()
  // samples[i] was taken timeDeltas[i] µs after the previous one.
  const samples = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  let total = 0
  for (let i = 0; i < samples.length; i++) {
    const node = byId.get(samples[i])
    const dt = deltas[i + 1] ?? deltas[i] ?? 0
    total += dt
    const key = label(node.callFrame)
    selfUs.set(key, (selfUs.get(key) ?? 0) + dt)
  }
  const rows = [...selfUs.entries()].map(([fn, us]) => ({ fn, ms: us / 1000, share: total ? us / total : 0 }))
  rows.sort((a, b) => b.ms - a.ms)
  const idle = rows.find((r) => r.fn === '(idle)')?.ms ?? 0
  return { file, totalMs: total / 1000, busyMs: total / 1000 - idle, rows }
}

function label(cf) {
  const name = cf.functionName || '(anonymous)'
  if (!cf.url) return name
  let where = cf.url.replace(/^file:\/\//, '')
  if (where.startsWith(ROOT)) where = where.slice(ROOT.length + 1)
  else if (where.includes('/node_modules/')) where = where.slice(where.lastIndexOf('/node_modules/') + 1)
  return `${name} ${where}:${cf.lineNumber + 1}`
}

export function format(summary, top = 20) {
  const lines = [
    `${path.basename(summary.file)}: ${summary.totalMs.toFixed(0)} ms sampled, ${summary.busyMs.toFixed(0)} ms not idle`,
    `  self ms   share  function`,
  ]
  for (const r of summary.rows.slice(0, top)) {
    lines.push(`  ${r.ms.toFixed(0).padStart(7)}  ${(r.share * 100).toFixed(1).padStart(5)}%  ${r.fn}`)
  }
  return lines.join('\n')
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2)
  const topAt = args.indexOf('--top')
  const top = topAt >= 0 ? Number(args[topAt + 1]) : 20
  const files = args.filter((a, i) => !a.startsWith('--') && (topAt < 0 || i !== topAt + 1))
  if (files.length === 0) {
    console.error('usage: node bench/profile-summary.mjs file.cpuprofile [--top 20]')
    process.exit(2)
  }
  for (const f of files) console.log(format(summarise(f), top) + '\n')
}
