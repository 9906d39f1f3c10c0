/**
 * Reloading the TOML file of a running process: on SIGHUP, or `edgerelay reload --metrics
 * host:port`, which asks the process through its metrics port (POST /reload). A file that does not
 * load is refused and every half keeps running as it was.
 */
import { RelayError } from '../base/errors.ts'
import type { Logger } from '../base/logger.ts'
import { parseHostPort } from '../net/endpoint.ts'
import { describeReload, type HalfConfig, type RunningHalves } from './running-halves.ts'

/** The outcome, as the HTTP answer gives it: 200 done, 422 the file was refused, 500 a table did not start. */
export type Reload = () => Promise<{ status: number; text: string }>

/** One reload at a time (a second SIGHUP waits for the first). `read` loads and checks the file. */
export function reloader<C extends HalfConfig>(read: () => C[], hasFile: boolean, running: RunningHalves<C>, log: Logger): Reload {
  let last: Promise<unknown> = Promise.resolve()
  return () => {
    const next = last.then(async () => {
      if (!hasFile) {
        const text = 'nothing to reload: no --config file (a command line does not change)'
        log.info(text)
        return { status: 200, text }
      }
      let configs: C[]
      try {
        configs = read()
      } catch (err) {
        const code = (err as RelayError).code
        const text = `reload refused, every half runs on as it was: ${(err as Error).message}`
        log.error(text, { code })
        return { status: 422, text: `${text}${code ? ` [${code}]` : ''}` }
      }
      const summary = await running.reload(configs)
      const text = describeReload(summary)
      if (summary.failed.length) log.error(text)
      else log.info(text)
      return { status: summary.failed.length ? 500 : 200, text }
    })
    last = next.catch(() => {})
    return next
  }
}

/** POST /reload on the metrics port. */
export const reloadRoute = (reload: Reload) => async (): Promise<Response> => {
  const r = await reload()
  return new Response(`${r.text}\n`, { status: r.status, headers: { 'content-type': 'text/plain; charset=utf-8' } })
}

/** `edgerelay reload --metrics host:port`: asks that process to reload; the exit code follows its answer. */
export async function requestReload(address: string | boolean | undefined): Promise<{ exitCode: number; text: string }> {
  if (typeof address !== 'string') throw new RelayError('E_USAGE', "'edgerelay reload' needs --metrics <host:port>, the metrics address of the running process (or send it SIGHUP)")
  const ep = parseHostPort(address, { role: 'listen' })
  const host = ep.hostKind === 'wildcard' || ep.host === '0.0.0.0' ? '127.0.0.1' : ep.host === '::' ? '[::1]' : ep.host.includes(':') ? `[${ep.host}]` : ep.host
  const url = `http://${host}:${ep.port}/reload`
  let response: Response
  try {
    response = await fetch(url, { method: 'POST', signal: AbortSignal.timeout(60_000) })
  } catch (cause) {
    throw new RelayError('E_CONNECT', `no answer from ${url} (${(cause as Error).message}): is a half running with --metrics ${address}?`, { cause })
  }
  const text = (await response.text()).trimEnd()
  if (response.status === 404) return { exitCode: 1, text: `${url}: not an edgerelay metrics port (404)` }
  return { exitCode: response.status === 200 ? 0 : response.status === 422 ? 2 : 1, text }
}
