import type { HalfSettings } from '../half/start-half.ts'
import { RelayError } from '../base/errors.ts'
import { isLogFormat, isLogLevel } from '../base/logger.ts'
import type { TlsMaterial } from '../core/connector.ts'
import { env, readText } from './host.ts'
import { firstLine, readSecretFile, tokenOption } from './secrets.ts'
import { hostsResolver, type Resolver } from '../net/resolver.ts'

/** Turns merged command-line/config options (uhppoted-tunnel names) into HalfSettings. */
export function toHalfOptions(o: Record<string, string | boolean>, where: string): HalfSettings {
  const str = (k: string) => (typeof o[k] === 'string' ? (o[k] as string) : undefined)
  const inText = str('in')
  const outText = str('out')
  if (!inText || !outText) throw new RelayError('E_CONFIG', `${where}: both --in and --out are required (e.g. --in udp/listen:127.0.0.1:60000 --out tcp/client:relay.example.com:12345)`)
  if (o.ipv4 === true && o.ipv6 === true) throw new RelayError('E_CONFIG', `${where}: --ipv4 and --ipv6 exclude each other`)
  const level = str('log-level') ?? 'info'
  if (!isLogLevel(level)) throw new RelayError('E_CONFIG', `${where}: --log-level must be debug, info, warn or error, not '${level}'`)
  const logLevel = o.debug === true ? 'debug' : level
  const logFormat = str('log-format') ?? 'text'
  if (!isLogFormat(logFormat)) throw new RelayError('E_CONFIG', `${where}: --log-format must be text or json, not '${logFormat}'`)
  const int = (k: string) => {
    const v = str(k)
    if (v === undefined) return undefined
    if (!/^-?\d+$/.test(v)) throw new RelayError('E_CONFIG', `${where}: --${k} must be a whole number, not '${v}'`)
    return Number(v)
  }
  return {
    in: inText,
    out: outText,
    codec: str('codec'),
    udpTimeout: str('udp-timeout'),
    flowIdle: str('flow-idle'),
    token: tokenOption(o, where),
    family: o.ipv4 === true ? 4 : o.ipv6 === true ? 6 : undefined,
    maxRetries: int('max-retries'),
    maxRetryDelay: str('max-retry-delay'),
    helloTimeout: str('hello-timeout'),
    connectTimeout: str('connect-timeout'),
    heartbeat: str('heartbeat'),
    queueMaxPackets: int('queue-packets'),
    queueMaxBytes: int('queue-bytes'),
    tls: tlsMaterial(o, where),
    html: str('html'),
    resolver: resolverOption(str('resolver'), where),
    xmppPassword: xmppPassword(str('xmpp-password-file'), where),
    logLevel,
    logFormat,
  }
}

/** --resolver: `hosts:FILE` is read here (the library takes text); `system` and `host:port` pass on. */
function resolverOption(value: string | undefined, where: string): string | Resolver | undefined {
  if (!value?.startsWith('hosts:')) return value
  const path = value.slice('hosts:'.length)
  try {
    return hostsResolver(readText(path), path)
  } catch (cause) {
    throw new RelayError('E_CONFIG', `${where}: cannot read the --resolver hosts file '${path}': ${(cause as Error).message}`, { cause })
  }
}

/** --ca-cert, --cert and --key name PEM files (read here: the library takes PEM text). */
function tlsMaterial(o: Record<string, string | boolean>, where: string): TlsMaterial {
  const file = (k: string): string | undefined => {
    const path = o[k]
    if (path === undefined || path === false) return undefined
    if (typeof path !== 'string' || path === '') throw new RelayError('E_CONFIG', `${where}: --${k} needs a file name`)
    if (k === 'key') return readSecretFile(path, k, where)
    try {
      return readText(path)
    } catch (cause) {
      throw new RelayError('E_CONFIG', `${where}: cannot read the --${k} file '${path}': ${(cause as Error).message}`, { cause })
    }
  }
  return { caCert: file('ca-cert'), cert: file('cert'), key: file('key'), clientAuth: o['client-auth'] === true || o['client-auth'] === 'true' }
}

/** --xmpp-password-file (its first line), else $EDGERELAY_XMPP_PASSWORD; never a command-line value (ps shows those). */
function xmppPassword(file: string | undefined, where: string): string | undefined {
  if (file === undefined) return env('EDGERELAY_XMPP_PASSWORD')
  return firstLine(readSecretFile(file, 'xmpp-password-file', where))
}
