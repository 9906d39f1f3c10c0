import type { ResolvedAddress, Runtime, StreamConn } from '../adapter/types.ts'
import { RelayError, errnoOf } from '../core/errors.ts'

export interface AttemptError {
  address: string
  port: number
  errno?: string
  message: string
}

export class ConnectError extends RelayError {
  readonly errors: AttemptError[]
  constructor(text: string, errors: AttemptError[]) {
    const list = errors.map((e) => `${e.address.includes(':') ? `[${e.address}]` : e.address}:${e.port}: ${e.errno ?? e.message}`).join('; ')
    super('E_CONNECT_FAILED', `${text}: cannot connect: ${list}`)
    this.name = 'ConnectError'
    this.errors = errors
  }
}

/**
 * Tries each address in turn, each attempt bounded by `timeoutMs`; one error lists every
 * address with its own reason.
 */
export async function dialFirst(rt: Runtime, text: string, addresses: ResolvedAddress[], port: number, timeoutMs: number, signal: AbortSignal): Promise<StreamConn> {
  const errors: AttemptError[] = []
  for (const addr of addresses) {
    if (signal.aborted) throw new RelayError('E_CANCELLED', `${text}: cancelled`)
    const attempt = new AbortController()
    const onAbort = () => attempt.abort(new RelayError('E_CANCELLED', 'cancelled'))
    signal.addEventListener('abort', onAbort, { once: true })
    const timer = setTimeout(() => attempt.abort(new RelayError('E_CONNECT_TIMEOUT', `no answer within ${timeoutMs} ms`)), timeoutMs)
    try {
      return await rt.connectTcp({ address: addr.address, port, signal: attempt.signal })
    } catch (err) {
      const reason = attempt.signal.aborted ? (attempt.signal.reason as Error) : (err as Error)
      errors.push({ address: addr.address, port, errno: errnoOf(reason) ?? errnoOf(err), message: reason?.message ?? String(err) })
    } finally {
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
    }
  }
  throw new ConnectError(text, errors)
}
