/**
 * Host name normalisation (docs/addresses.md P5): IDNA to punycode, lowercase, label ≤63 and
 * name ≤253 octets, trailing dot kept. IDNA mapping is delegated to the WHATWG URL parser, which
 * every runtime, browser and edge platform has and which gives the same answers on all of them.
 */
import { endsInNumber } from '../base/ip.ts'
import { type Checked, describeChar } from '../base/scan.ts'

const ASCII_LABEL_CHAR = /[A-Za-z0-9_-]/
// The dots UTS 46 maps to '.', so labels are counted as the URL parser will count them.
const DOTS = new Set(['.', '\u3002', '\uff0e', '\uff61'])

interface Label {
  text: string
  start: number
}

function reject(index: number, message: string): { ok: false; index: number; message: string } {
  return { ok: false, index, message }
}

/**
 * Normalises a host name. Returns the ASCII (punycode) lowercase name or why it is invalid, with
 * the index of the offending character in `text`.
 */
export function normalizeHostname(text: string): Checked<string> {
  if (text === '') return reject(0, 'empty host name')
  const labels: Label[] = []
  let start = 0
  let ascii = true
  for (let i = 0; i <= text.length; i++) {
    const ch = text[i]
    if (ch === undefined || DOTS.has(ch)) {
      labels.push({ text: text.slice(start, i), start })
      start = i + 1
      continue
    }
    if (ch.charCodeAt(0) > 0x7f) ascii = false
    else if (!ASCII_LABEL_CHAR.test(ch)) return reject(i, `invalid host name: unexpected ${describeChar(ch)}`)
  }
  const trailingDot = labels.length > 1 && labels.at(-1)?.text === ''
  if (trailingDot) labels.pop()
  for (const label of labels) {
    if (label.text === '') {
      return reject(label.start, 'empty label in host name (two dots in a row, or a leading dot)')
    }
    if (label.text.startsWith('-') || label.text.endsWith('-')) {
      const at = label.text.startsWith('-') ? label.start : label.start + label.text.length - 1
      return reject(at, `a host name label cannot start or end with '-' ('${label.text}')`)
    }
  }

  let name = text.toLowerCase()
  const needsIdna = !ascii || labels.some((l) => l.text.toLowerCase().startsWith('xn--'))
  if (needsIdna) {
    const mapped = idnaToAscii(labels.map((l) => l.text).join('.'))
    if (mapped === undefined) {
      const bad = labels.find((l) => idnaToAscii(l.text) === undefined) ?? labels[0]
      return reject(bad?.start ?? 0, `'${bad?.text ?? text}' is not a valid internationalised host name label`)
    }
    name = mapped + (trailingDot ? '.' : '')
    const out = mapped.split('.')
    if (out.length !== labels.length) return reject(0, `'${text}' maps to a different number of labels`)
    for (const [n, label] of out.entries()) {
      const bad = label.search(/[^a-z0-9_-]/)
      if (bad >= 0) return reject(labels[n]?.start ?? 0, `'${labels[n]?.text}' maps to '${label}', which is not a valid host name label`)
    }
    if (endsInNumber(mapped)) return reject(0, `'${text}' maps to the number '${mapped}', which is not a host name`)
  }

  for (const [n, label] of name.replace(/\.$/, '').split('.').entries()) {
    if (label.length > 63) {
      return reject(labels[n]?.start ?? 0, `a host name label has at most 63 characters, '${label}' has ${label.length}`)
    }
  }
  const length = name.replace(/\.$/, '').length
  if (length > 253) return reject(0, `a host name has at most 253 characters, this one has ${length}`)
  return { ok: true, value: name }
}

/** UTS 46 ToASCII by way of the URL parser; undefined when it refuses the name. */
function idnaToAscii(name: string): string | undefined {
  try {
    // The '.x' suffix keeps an all-digit result from being read as an IPv4 address.
    const host = new URL(`http://${name}.x/`).hostname
    return host.endsWith('.x') ? host.slice(0, -2) : undefined
  } catch {
    return undefined
  }
}
