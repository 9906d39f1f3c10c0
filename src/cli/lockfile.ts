/**
 * uhppoted-tunnel's lockfile: one per half, so a second copy of the same half refuses to start,
 * naming the file and the process that holds it. uhppoted-tunnel holds an flock on it, which no
 * runtime here offers; the same guarantee comes from creating the file exclusively with our PID
 * in it, and taking over a file whose PID no longer runs (what an flock released by a killed
 * process amounts to).
 */
import { RelayError } from '../base/errors.ts'
import { canCheckProcesses, createExclusive, pid, processExists, readText, removeFile, sha1Hex, tempDir, writeText } from './host.ts'

export interface HeldLock {
  readonly path: string
  /** Gives the lock up: the file is removed (`remove-lockfile`), or emptied so no PID claims it. */
  release(): void
}

/** uhppoted-tunnel's default name: the service name and a hash of the two connectors. */
export function defaultLockfile(inText: string, outText: string, dir = tempDir()): string {
  return `${dir.replace(/\/+$/, '')}/uhppoted-tunnel-${sha1Hex(inText + outText)}.pid`
}

/** Takes the lock or throws E_LOCKED naming the holder. `note` reports a stale lock taken over. */
export function acquireLock(path: string, removeOnRelease: boolean, note: (line: string) => void): HeldLock {
  const me = `${pid()}\n`
  for (let attempt = 0; attempt < 3; attempt++) {
    if (createExclusive(path, me)) return held(path, removeOnRelease)
    let text: string
    try {
      text = readText(path)
    } catch {
      continue // removed meanwhile: try again
    }
    const holder = Number.parseInt(text.trim(), 10)
    if (Number.isInteger(holder) && holder > 0 && holder !== pid() && processExists(holder)) {
      const unsure = canCheckProcesses() ? '' : ` (or so it seems: this runtime may not check processes, deno needs --allow-run; if PID ${holder} is gone, remove the file)`
      throw new RelayError('E_LOCKED', `lockfile '${path}' is held by PID ${holder}${unsure}: this half already runs (stop it first, or give this one another --lockfile)`)
    }
    // Empty (released) or naming a process that is gone: free, as an unlocked flock file is.
    if (text.trim() !== '') note(`lockfile '${path}' named PID ${holder}, which no longer runs: taking it over`)
    try {
      removeFile(path)
    } catch {
      // Another starter removed it first; the exclusive create decides who wins.
    }
  }
  throw new RelayError('E_LOCKED', `lockfile '${path}': could not take it (another copy is starting at the same time?)`)
}

function held(path: string, removeOnRelease: boolean): HeldLock {
  let released = false
  return {
    path,
    release() {
      if (released) return
      released = true
      try {
        if (removeOnRelease) removeFile(path)
        else writeText(path, '')
      } catch {
        // Gone already: nothing holds it.
      }
    },
  }
}
