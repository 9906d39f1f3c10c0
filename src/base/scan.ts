/**
 * Small pieces shared by the endpoint and connector parsers: the result type of the literal
 * checkers, and how an offending character is named in a message.
 */
import { ParseError } from './errors.ts'

/** A checker's verdict: the value, or why not and where (0-based, relative to the text given). */
export type Checked<T> = { ok: true; value: T } | { ok: false; index: number; message: string }

/** Throws a ParseError; `index` is into the string the parser reports. */
export type Fail = (code: string, message: string, index: number) => never

/**
 * Builds the `Fail` of one parse: errors report `input` and add `shift` to every index (used when
 * the text being parsed was cut out of a larger string that the caller does not pass).
 */
export function failer(input: string, shift = 0): Fail {
  return (code, message, index) => {
    throw new ParseError(code, message, input, index + shift)
  }
}

/** Names a character (`character '#'`, `space`) so that whitespace and control characters show. */
export function describeChar(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0
  const hex = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`
  if (cp === 0x20) return 'space'
  if (cp < 0x20 || cp === 0x7f) return `control character ${hex}`
  if (cp > 0x7e) return `character '${String.fromCodePoint(cp)}' (${hex})`
  return `character '${ch}'`
}

/** "unexpected character 'x'" (or "unexpected space") for the character at `index` of `text`, or "unexpected end". */
export function unexpected(text: string, index: number): string {
  if (index >= text.length) return 'unexpected end'
  return `unexpected ${describeChar(String.fromCodePoint(text.codePointAt(index) ?? 0))}`
}

/** First index of `ch` in `text` within [from, to), or -1. */
export function indexIn(text: string, ch: string, from: number, to: number): number {
  const i = text.indexOf(ch, from)
  return i >= 0 && i < to ? i : -1
}
