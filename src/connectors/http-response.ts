/** Small web-standard responses shared by the HTTP-facing connectors (ws/server, http/https). */

/** A plain-text answer (a refusal, a 404), as Hono's `c.text` gave it. */
export function textResponse(body: string, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { 'content-type': 'text/plain; charset=UTF-8', ...headers } })
}

/** A JSON answer. */
export function jsonResponse(value: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(value), { status, headers: { 'content-type': 'application/json', ...headers } })
}
