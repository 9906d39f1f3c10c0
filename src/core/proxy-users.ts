/**
 * The credentials a proxy listener (socks5/listen, http-proxy/listen) accepts: `user:password`
 * lines (the password is everything after the first colon; blank lines and `#` comments are
 * skipped), as --proxy-users names them. Checked in time that does not depend on where a guess
 * differs, and against every entry, so timing tells nothing about which users exist.
 */
import { RelayError } from '../base/errors.ts'

const utf8 = new TextEncoder()

/** RFC 1929 carries each in one length byte. */
const MAX_FIELD = 255

export class ProxyUsers {
  private readonly entries: { user: Uint8Array; password: Uint8Array }[]

  private constructor(entries: { user: Uint8Array; password: Uint8Array }[]) {
    this.entries = entries
  }

  /** Parses the file's text; `where` names it in errors (never a password). */
  static parse(text: string, where: string): ProxyUsers {
    const entries: { user: Uint8Array; password: Uint8Array }[] = []
    const seen = new Set<string>()
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim()
      if (line === '' || line.startsWith('#')) return
      const colon = line.indexOf(':')
      const at = `${where} line ${i + 1}`
      if (colon <= 0) throw new RelayError('E_CONFIG', `${at}: expected user:password`)
      const user = line.slice(0, colon)
      const password = line.slice(colon + 1)
      if (password === '') throw new RelayError('E_CONFIG', `${at}: user '${user}' has an empty password`)
      const u = utf8.encode(user)
      const p = utf8.encode(password)
      if (u.length > MAX_FIELD || p.length > MAX_FIELD) throw new RelayError('E_CONFIG', `${at}: user names and passwords are at most ${MAX_FIELD} bytes (SOCKS5 carries each in one length byte)`)
      if (seen.has(user)) throw new RelayError('E_CONFIG', `${at}: user '${user}' is listed twice`)
      seen.add(user)
      entries.push({ user: u, password: p })
    })
    if (entries.length === 0) throw new RelayError('E_CONFIG', `${where}: no user:password line`)
    return new ProxyUsers(entries)
  }

  get size(): number {
    return this.entries.length
  }

  /** Whether the pair is one of the entries. */
  check(user: Uint8Array, password: Uint8Array): boolean {
    let found = 0
    for (const e of this.entries) found |= sameBytes(e.user, user) & sameBytes(e.password, password)
    return found === 1
  }
}

/** 1 when equal, else 0, looking at every byte of `known` whatever `given` is. */
function sameBytes(known: Uint8Array, given: Uint8Array): number {
  let diff = known.length ^ given.length
  for (let i = 0; i < known.length; i++) diff |= known[i]! ^ (given[i % Math.max(given.length, 1)] ?? 0)
  return diff === 0 ? 1 : 0
}
