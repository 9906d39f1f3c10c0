import type { ChildProcess } from 'node:child_process'

export interface WatchedProcess {
  child: ChildProcess
  /** Everything written to stdout and stderr so far. */
  output(): string
  /** Resolves with the exit code (or signal name) once the process and its pipes are done. */
  exited: Promise<number | string>
  hasExited(): boolean
  /** Resolves with the first match of `pattern` in the output; rejects when the process exits first or time runs out. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>
  /** Sends `signal` (default SIGTERM) unless the process has exited; resolves with the exit status. */
  stop(signal?: NodeJS.Signals): Promise<number | string>
}

/** Starts `cmd` (program and arguments) with stdout and stderr collected into one text. */
export function spawnWatched(cmd: string[], opts?: { cwd?: string; env?: Record<string, string | undefined> }): WatchedProcess
