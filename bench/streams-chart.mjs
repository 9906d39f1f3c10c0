/**
 * The TCP streams throughput as an SVG bar chart (bench/results/streams.svg, shown in
 * BENCHMARKS.md): one stream and eight streams per path and runtime, with socat's single stream as
 * a dashed line, from the `throughput` rows of bench/results/streams.json.
 */
const COLORS = { direct: '#6b7280', socat: '#374151', node: '#3c873a', bun: '#c2410c', deno: '#2563eb' }
const esc = (s) => String(s).replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')

export function streamsChart(results) {
  const rows = (results.throughput ?? []).filter((r) => Number.isFinite(r.one))
  const socat = rows.find((r) => r.path === 'socat')
  const W = 760
  const left = 170
  const right = 170
  const rowH = 30
  const top = 58
  const H = top + rows.length * rowH + 46
  const max = Math.max(...rows.flatMap((r) => [r.one, r.eight ?? 0]), 1)
  const scale = (v) => ((W - left - right) * v) / max
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="600">TCP streams: iperf3 Gbit/s, 1 stream (dark) and 8 streams (light)</text>`,
    `<text x="${W / 2}" y="40" text-anchor="middle" fill="#555">${esc(`${results.startedAt ?? ''} · 2 shared cores · ${results.seconds ?? '?'} s per run`)}</text>`,
  ]
  const yEnd = top + rows.length * rowH
  if (socat) {
    const x = (left + scale(socat.one)).toFixed(1)
    parts.push(`<line x1="${x}" y1="${top - 4}" x2="${x}" y2="${yEnd}" stroke="#9ca3af" stroke-dasharray="4 3"/>`)
    parts.push(`<text x="${x}" y="${yEnd + 14}" text-anchor="middle" fill="#374151">socat, 1 stream</text>`)
  }
  rows.forEach((r, i) => {
    const y = top + i * rowH
    const color = COLORS[r.runtime] ?? COLORS[r.path] ?? '#6b7280'
    const label = r.runtime === '-' ? r.path : `${r.runtime} ${r.path}`
    parts.push(`<text x="${left - 8}" y="${y + 17}" text-anchor="end">${esc(label)}</text>`)
    parts.push(`<rect x="${left}" y="${y + 3}" width="${scale(r.one).toFixed(1)}" height="11" fill="${color}" rx="2"/>`)
    if (Number.isFinite(r.eight)) parts.push(`<rect x="${left}" y="${y + 15}" width="${scale(r.eight).toFixed(1)}" height="11" fill="${color}" fill-opacity="0.45" rx="2"/>`)
    const ratio = socat ? `  (${(r.one / socat.one).toFixed(2)}× socat)` : ''
    parts.push(`<text x="${(left + scale(Math.max(r.one, r.eight ?? 0)) + 6).toFixed(1)}" y="${y + 17}" fill="#111">${r.one.toFixed(2)} / ${Number.isFinite(r.eight) ? r.eight.toFixed(2) : '–'}${esc(ratio)}</text>`)
  })
  let lx = left
  for (const [name, color] of Object.entries(COLORS)) {
    parts.push(`<rect x="${lx}" y="${H - 20}" width="12" height="12" fill="${color}"/><text x="${lx + 16}" y="${H - 10}">${name}</text>`)
    lx += 90
  }
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}
