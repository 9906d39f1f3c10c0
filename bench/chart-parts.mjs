/** What the bench's SVG bar charts share (qps.svg from run.mjs, streams.svg from streams-chart.mjs). */
export const COLORS = { direct: '#6b7280', socat: '#374151', node: '#3c873a', bun: '#c2410c', deno: '#2563eb' }

/**
 * Where a chart of `count` bar rows puts things: `left` px of labels, as much room on the right for
 * the values, and `scale` mapping a value up to `max` onto the bar area.
 */
export function chartFrame(count, { left, rowH, max }) {
  const W = 760
  const top = 58
  const bottom = top + count * rowH
  return { W, H: bottom + 46, left, rowH, top, bottom, scale: (v) => ((W - 2 * left) * v) / Math.max(max, 1) }
}

export const esc = (s) => String(s).replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')

/** The opening of a chart: the svg element, a white background, the title and a grey subtitle. */
export function chartHead(W, H, title, subtitle) {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="600">${esc(title)}</text>`,
    `<text x="${W / 2}" y="40" text-anchor="middle" fill="#555">${esc(subtitle)}</text>`,
  ]
}

/** A dashed reference line down the bars, labelled below them. */
export function referenceLine(x, top, bottom, label) {
  return [
    `<line x1="${x.toFixed(1)}" y1="${top - 4}" x2="${x.toFixed(1)}" y2="${bottom}" stroke="#9ca3af" stroke-dasharray="4 3"/>`,
    `<text x="${x.toFixed(1)}" y="${bottom + 14}" text-anchor="middle" fill="#374151">${esc(label)}</text>`,
  ]
}

/** The colour legend along the bottom, and the closing tag. */
export function chartFoot(H, left) {
  const parts = []
  let lx = left
  for (const [name, color] of Object.entries(COLORS)) {
    parts.push(`<rect x="${lx}" y="${H - 20}" width="12" height="12" fill="${color}"/><text x="${lx + 16}" y="${H - 10}">${name}</text>`)
    lx += 90
  }
  parts.push('</svg>')
  return parts
}
