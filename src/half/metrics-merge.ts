/**
 * Several processes' /metrics text (renderMetrics' own format) as one exposition: every sample
 * gets a `worker` label, and each family stays one group (HELP, TYPE, then all its samples), as
 * the text format requires.
 */
interface Family {
  head: string[]
  samples: string[]
}

/** Adds `label="value"` first in a sample line's label set. */
function withLabel(line: string, label: string, value: string): string {
  const pair = `${label}="${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
  const space = line.indexOf(' ')
  const brace = line.indexOf('{')
  if (brace >= 0 && brace < space) return `${line.slice(0, brace + 1)}${pair},${line.slice(brace + 1)}`
  return `${line.slice(0, space)}{${pair}}${line.slice(space)}`
}

export function mergeMetrics(texts: { worker: string; text: string }[]): string {
  const families = new Map<string, Family>()
  for (const { worker, text } of texts) {
    let current: Family | undefined
    for (const line of text.split('\n')) {
      if (line === '') continue
      const meta = /^# (HELP|TYPE) (\S+)/.exec(line)
      if (meta) {
        const name = meta[2]!
        current = families.get(name)
        if (!current) families.set(name, (current = { head: [], samples: [] }))
        if (current.head.length < 2 && !current.head.some((h) => h.startsWith(`# ${meta[1]} `))) current.head.push(line)
        continue
      }
      if (line.startsWith('#') || !current) continue
      current.samples.push(withLabel(line, 'worker', worker))
    }
  }
  let out = ''
  for (const f of families.values()) out += `${[...f.head, ...f.samples].join('\n')}\n`
  return out
}
