/**
 * Leveled logging with a pluggable sink, so the core writes through whatever the host gives it
 * (the CLI prints to stderr; a library user may collect lines or silence them).
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 }

export interface Logger {
  debug(msg: string): void
  info(msg: string): void
  warn(msg: string): void
  error(msg: string): void
  /** A logger whose lines carry an extra tag, e.g. `tcp/server`. */
  child(tag: string): Logger
  readonly level: LogLevel
}

export type LogSink = (level: Exclude<LogLevel, 'silent'>, line: string) => void

export const consoleSink: LogSink = (level, line) => {
  // stderr keeps stdout free for data; console.error is universal across runtimes and browsers.
  if (level === 'error' || level === 'warn') console.error(line)
  else console.error(line)
}

export function isLogLevel(value: string): value is LogLevel {
  return value in ORDER
}

export function createLogger(level: LogLevel = 'info', sink: LogSink = consoleSink, tag = ''): Logger {
  const min = ORDER[level]
  const emit = (l: Exclude<LogLevel, 'silent'>, msg: string) => {
    if (ORDER[l] < min) return
    const stamp = new Date().toISOString()
    sink(l, `${stamp} ${l.toUpperCase().padEnd(5)} ${tag ? `${tag} ` : ''}${msg}`)
  }
  return {
    level,
    debug: (m) => emit('debug', m),
    info: (m) => emit('info', m),
    warn: (m) => emit('warn', m),
    error: (m) => emit('error', m),
    child: (t) => createLogger(level, sink, tag ? `${tag} ${t}` : t),
  }
}

export const silentLogger: Logger = createLogger('silent')
