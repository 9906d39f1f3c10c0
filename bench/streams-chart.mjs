/**
 * The TCP streams throughput as an SVG bar chart (bench/results/streams.svg, shown in
 * BENCHMARKS.md): one stream and eight streams per path and runtime, with socat's single stream as
 * a dashed line, from the `throughput` rows of bench/results/streams.json.
 */
import { chartFoot, chartFrame, chartHead, COLORS, esc, referenceLine } from './chart-parts.mjs'

export function streamsChart(results) {
  const rows = (results.throughput ?? []).filter((r) => Number.isFinite(r.one))
  const socat = rows.find((r) => r.path === 'socat')
  const { W, H, left, rowH, top, bottom, scale } = chartFrame(rows.length, { left: 170, rowH: 30, max: Math.max(...rows.flatMap((r) => [r.one, r.eight ?? 0])) })
  const parts = chartHead(W, H, 'TCP streams: iperf3 Gbit/s, 1 stream (dark) and 8 streams (light)', `${results.startedAt ?? ''} · 2 shared cores · ${results.seconds ?? '?'} s per run`)
  if (socat) parts.push(...referenceLine(left + scale(socat.one), top, bottom, 'socat, 1 stream'))
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
  parts.push(...chartFoot(H, left))
  return parts.join('\n') + '\n'
}
