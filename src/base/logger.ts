/**
 * Leveled logging with a pluggable sink, so the core writes through whatever the host gives it
 * (the CLI prints to stderr; a library user may collect lines or silence them). Two line formats:
 * text (the default, for people) and json (one object per line, for log pipelines).
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 }

/** What a log call may add besides its message; both become fields of a JSON line. */
export interface LogFields {
  /** A stable identifier of the event: an error's `E_*` code, or a drop's counter (`dropped.<reason>`). */
  code?: string
  /** The remote party the line is about (`127.0.0.1:50211`, a tunnel peer's label). */
  peer?: string
}

/**
 * One log line as data. With `--log-format json` each line is exactly this object, keys in this
 * order, absent values as null (the field names are stable: README, "Logs").
 */
export interface LogRecord {
  /** ISO 8601, UTC, milliseconds. */
  time: string
  level: Exclude<LogLevel, 'silent'>
  /** The connector (or other part) that logged it: `tcp/server`, `udp/listen`; null for the half itself. */
  connector: string | null
  code: string | null
  peer: string | null
  message: string
}

export interface Logger {
  debug(msg: string, fields?: LogFields): void
  info(msg: string, fields?: LogFields): void
  warn(msg: string, fields?: LogFields): void
  error(msg: string, fields?: LogFields): void
  /** A logger whose lines carry an extra tag, e.g. `tcp/server`. */
  child(tag: string): Logger
  readonly level: LogLevel
}

/** Receives each line as formatted text (text or JSON) and as a record. */
export type LogSink = (level: Exclude<LogLevel, 'silent'>, line: string, record: LogRecord) => void

export type LogFormat = 'text' | 'json'

export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json']

export const consoleSink: LogSink = (_level, line) => {
  // stderr keeps stdout free for data; console.error is universal across runtimes and browsers.
  console.error(line)
}

export function isLogLevel(value: string): value is LogLevel {
  return value in ORDER
}

export function isLogFormat(value: string): value is LogFormat {
  return (LOG_FORMATS as readonly string[]).includes(value)
}

/** A record as a line of the given format. */
export function formatRecord(record: LogRecord, format: LogFormat): string {
  if (format === 'json') return JSON.stringify(record)
  return `${record.time} ${record.level.toUpperCase().padEnd(5)} ${record.connector ? `${record.connector} ` : ''}${record.message}`
}

export function createLogger(level: LogLevel = 'info', sink: LogSink = consoleSink, tag = '', format: LogFormat = 'text'): Logger {
  const min = ORDER[level]
  const emit = (l: Exclude<LogLevel, 'silent'>, message: string, fields?: LogFields) => {
    if (ORDER[l] < min) return
    const record: LogRecord = { time: new Date().toISOString(), level: l, connector: tag || null, code: fields?.code ?? null, peer: fields?.peer ?? null, message }
    sink(l, formatRecord(record, format), record)
  }
  return {
    level,
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (t) => createLogger(level, sink, tag ? `${tag} ${t}` : t, format),
  }
}

export const silentLogger: Logger = createLogger('silent')
