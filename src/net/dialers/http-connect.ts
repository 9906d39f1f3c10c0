/**
 * HTTP CONNECT (RFC 9110 §9.3.6): `CONNECT host:port HTTP/1.1`, Basic proxy authentication
 * (RFC 7617) when the URL or the half has credentials; any 2xx answer opens the tunnel.
 */
import { toBase64 } from '../../base/base64.ts'
import type { StreamConn } from '../../ports/runtime.ts'
import { type DialerPlugin, ProxyError, type ProxyOpen, targetText } from './dialer.ts'
import { ProxyExchange } from './exchange.ts'

/** An answer's status line and headers must fit in this. */
const MAX_HEADERS = 16 * 1024

const encoder = new TextEncoder()
const decoder = new TextDecoder()

async function open(o: ProxyOpen): Promise<StreamConn> {
  const who = `the HTTP proxy ${o.proxy.text} (${o.proxy.source})`
  const target = targetText(o.target)
  const x = new ProxyExchange(o.conn, o.signal, who)
  const lines = [`CONNECT ${target} HTTP/1.1`, `Host: ${target}`, 'User-Agent: edgerelay']
  if (o.proxy.user !== undefined) lines.push(`Proxy-Authorization: Basic ${toBase64(encoder.encode(`${o.proxy.user}:${o.proxy.password ?? ''}`))}`)
  x.write(encoder.encode(`${lines.join('\r\n')}\r\n\r\n`))
  const head = decoder.decode(await x.readHeaderBlock(MAX_HEADERS))
  const [statusLine = '', ...headerLines] = head.split('\r\n')
  const m = /^HTTP\/1\.[01] ([0-9]{3})(?: (.*))?$/.exec(statusLine)
  if (!m) return x.abandon(new ProxyError('E_PROXY_PROTOCOL', `${who} did not answer CONNECT as an HTTP proxy (first line: '${statusLine.slice(0, 80)}')`))
  const status = Number(m[1])
  const reason = `${status}${m[2] ? ` ${m[2].slice(0, 100)}` : ''}`
  if (status >= 200 && status < 300) return x.handOver()
  // 407 is the standard answer; tinyproxy answers wrong credentials with 401.
  if (status === 407 || (status === 401 && o.proxy.user !== undefined)) {
    const challenge = headerLines.find((l) => /^proxy-authenticate:/i.test(l))?.slice(19).trim() ?? ''
    const basic = challenge === '' || /^basic\b/i.test(challenge)
    const why = !basic
      ? `it asks for ${challenge.split(/\s/)[0]} authentication, and edgerelay does Basic only`
      : o.proxy.user === undefined
        ? 'it needs a user name and password: put them in the proxy URL (http://user:password@host:port), in a --proxy-user-file or in EDGERELAY_PROXY_USER'
        : `it did not accept the user '${o.proxy.user}' with that password`
    return x.abandon(new ProxyError('E_PROXY_AUTH', `${who} refused CONNECT ${target} (${reason}): ${why}`))
  }
  if (status === 502 || status === 503 || status === 504) return x.abandon(new ProxyError('E_PROXY_UPSTREAM', `${who} could not reach ${target} (${reason})`))
  return x.abandon(new ProxyError('E_PROXY_REFUSED', `${who} refused CONNECT ${target} (${reason})${status === 403 ? ': its rules do not allow this destination or port' : ''}`))
}

export const httpConnectDialer: DialerPlugin = { schemes: ['http'], title: 'HTTP proxy', defaultPort: 1080, open }
