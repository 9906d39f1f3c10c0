/**
 * Interface names as they appear in IPv6 zones (`fe80::1%eth0`), in `iface=` options and in
 * uhppoted-tunnel's `::eth0:` prefix (docs/addresses.md P4). Whether the interface exists is
 * checked at use time (E_NO_SUCH_INTERFACE), not here.
 */
import { type Checked, describeChar } from '../base/scan.ts'

/** Longest name: Linux IFNAMSIZ is 16 including the terminating NUL. */
export const MAX_INTERFACE_NAME = 15

/**
 * Checks an interface name or numeric zone: 1–15 characters, none of `]`, `%`, `/`, `,`,
 * whitespace or control characters (`,` because it separates options).
 */
export function checkInterfaceName(text: string, what = 'interface name'): Checked<string> {
  if (text === '') return { ok: false, index: 0, message: `empty ${what}` }
  const bad = text.search(/[\]%/,\s\p{Cc}]/u)
  if (bad >= 0) {
    return { ok: false, index: bad, message: `invalid ${what} '${text}': unexpected ${describeChar(text[bad] ?? '')}` }
  }
  if (text.length > MAX_INTERFACE_NAME) {
    return { ok: false, index: MAX_INTERFACE_NAME, message: `${what} '${text}' is longer than ${MAX_INTERFACE_NAME} characters` }
  }
  return { ok: true, value: text }
}
