/**
 * uhppoted-tunnel's process options, each either doing what it does there or refused with what
 * to use instead: --console, --service, --logfile, --logfilesize, --pid, --workdir, --quiet.
 */
import type { CliOptions } from './args.ts'
import type { LogSink } from '../base/logger.ts'
import { RelayError } from '../base/errors.ts'
import { appendText, makeDir, pid, printError, removeFile, writeText } from './host.ts'

export interface ProcessSetup {
  /** Where log lines go: stderr, or the --logfile. */
  sink: LogSink
  /** For the start-up line: where the log goes and why. */
  describe: string
  /** Folder for the default lockfile (--workdir), if given. */
  workdir?: string
  /** Undoes what start-up did (the --pid file). */
  cleanup(): void
}

/**
 * uhppoted-tunnel logs to its log file unless run with --console, and to the file anyway when
 * run as a service (--service); edgerelay logs to stderr (the journal under systemd) unless given
 * --logfile, and then follows the same two rules.
 */
export function setUpProcess(o: CliOptions): ProcessSetup {
  if (o.logfilesize !== undefined) {
    throw new RelayError('E_CONFIG', '--logfilesize: edgerelay does not rotate its --logfile itself: rotate it with logrotate (each line is appended to the file by name, so a rotated file is replaced at the next line; no signal needed)')
  }
  const logfile = typeof o.logfile === 'string' && o.logfile !== '' ? o.logfile : undefined
  if (o.logfile !== undefined && logfile === undefined) throw new RelayError('E_CONFIG', '--logfile needs a file name')
  const toFile = logfile !== undefined && (o.console !== true || o.service === true)
  let sink: LogSink = (_level, line) => printError(line)
  let describe = o.service === true ? 'logging to stderr (run as a service: the journal keeps it)' : 'logging to stderr'
  if (toFile) {
    const dir = logfile.includes('/') ? logfile.slice(0, logfile.lastIndexOf('/')) : ''
    try {
      if (dir) makeDir(dir)
      appendText(logfile, '')
    } catch (cause) {
      throw new RelayError('E_CONFIG', `--logfile '${logfile}': cannot write to it: ${(cause as Error).message}`, { cause })
    }
    sink = (_level, line) => {
      try {
        appendText(logfile, `${line}\n`)
      } catch {
        printError(line)
      }
    }
    describe = `logging to ${logfile}${o.service === true ? ' (--service)' : ''}`
  } else if (logfile !== undefined) {
    describe = `logging to stderr (--console; --logfile ${logfile} is used when not on a console)`
  }
  let workdir: string | undefined
  if (typeof o.workdir === 'string') {
    if (o.workdir === '') throw new RelayError('E_CONFIG', '--workdir needs a folder name')
    try {
      makeDir(o.workdir)
    } catch (cause) {
      throw new RelayError('E_CONFIG', `--workdir '${o.workdir}': cannot create it: ${(cause as Error).message}`, { cause })
    }
    workdir = o.workdir
  }
  let pidFile: string | undefined
  if (o.pid !== undefined) {
    if (typeof o.pid !== 'string' || o.pid === '') throw new RelayError('E_CONFIG', '--pid needs a file name')
    try {
      writeText(o.pid, `${pid()}\n`)
    } catch (cause) {
      throw new RelayError('E_CONFIG', `--pid '${o.pid}': cannot write it: ${(cause as Error).message}`, { cause })
    }
    pidFile = o.pid
  }
  return {
    sink,
    describe,
    ...(workdir ? { workdir } : {}),
    cleanup() {
      if (pidFile === undefined) return
      try {
        removeFile(pidFile)
      } catch {
        // Already gone.
      }
      pidFile = undefined
    },
  }
}
