/** Small web-standard responses shared by the HTTP-facing connectors (ws/server, http/https). */

/** A plain-text answer (a refusal, a 404), as Hono's `c.text` gave it. */
export function textResponse(body: string, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { 'content-type': 'text/plain; charset=UTF-8', ...headers } })
}

/** A JSON answer. */
export function jsonResponse(value: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(value), { status, headers: { 'content-type': 'application/json', ...headers } })
}

/**
 * The security headers of every answer (issue 13 item 5): no MIME sniffing, no framing, no
 * referrer; over TLS also HSTS (a year, subdomains included). Pages add their CSP themselves.
 */
export function securityHeaders(secure: boolean): Record<string, string> {
  return {
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    ...(secure ? { 'strict-transport-security': 'max-age=31536000; includeSubDomains' } : {}),
  }
}

/** `res` with `headers` added where it does not set them itself (an upgrade's answer passes unchanged). */
export function withHeaders(res: Response, headers: Record<string, string>): Response {
  if (res.status === 101) return res
  try {
    for (const [k, v] of Object.entries(headers)) if (!res.headers.has(k)) res.headers.set(k, v)
    return res
  } catch {
    // Immutable headers (a response from elsewhere): copy.
    const copy = new Response(res.body, res)
    for (const [k, v] of Object.entries(headers)) if (!copy.headers.has(k)) copy.headers.set(k, v)
    return copy
  }
}
