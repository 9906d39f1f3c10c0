import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { extname, join } from 'node:path'
import { test } from '../harness.ts'
import { half } from '../helpers/halves.ts'
import { needPeers } from '../helpers/peers.ts'
import { ROOT, run } from '../helpers/processes.ts'
import { echoDevice } from '../helpers/udp.ts'
import { echoServer } from '../helpers/tcp-streams.ts'

// The browser client (src/browser/client.ts, bundled for browsers with `bun build --target
// browser`) in Debian's headless chromium: the page in examples/browser/ sends a datagram through
// this runtime's ws/server half (→ udp/broadcast) to a UDP device and shows both replies.

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' }

/** Serves examples/browser/ and the bundle from loopback; closed at the end of the test. */
async function staticServer(t: Parameters<Parameters<typeof test>[1]>[0], dirs: string[]): Promise<number> {
  const server = createServer((req, res) => {
    const name = new URL(req.url ?? '/', 'http://x').pathname.slice(1) || 'index.html'
    for (const dir of name.includes('..') || name.includes('/') ? [] : dirs) {
      try {
        const body = readFileSync(join(dir, name))
        res.writeHead(200, { 'content-type': TYPES[extname(name)] ?? 'application/octet-stream' }).end(body)
        return
      } catch {
        // next folder
      }
    }
    res.writeHead(404).end('not found\n')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.defer(() => new Promise<void>((resolve) => {
    server.closeAllConnections?.()
    server.close(() => resolve())
  }))
  return (server.address() as { port: number }).port
}

/** The browser client bundled with `bun build --target browser` into a temporary folder (needs chromium to be worth it). */
async function browserBundle(t: Parameters<Parameters<typeof test>[1]>[0]): Promise<string> {
  needPeers('chromium')
  const out = mkdtempSync(join(tmpdir(), 'edgerelay-browser-'))
  t.defer(() => rmSync(out, { recursive: true, force: true }))
  const built = await run([`${ROOT}node_modules/.bin/bun`, 'build', 'src/browser/client.ts', '--target', 'browser', '--format', 'esm', '--outfile', join(out, 'edgerelay-browser.js')], 30_000)
  assert.equal(built.code, 0, built.stderr)
  return out
}

test('headless chromium loads the example page and shows the UDP device\'s replies', async (t) => {
  const out = await browserBundle(t)
  const bundle = readFileSync(join(out, 'edgerelay-browser.js'), 'utf8')
  assert.doesNotMatch(bundle, /["']node:/, 'the browser bundle must not import Node built-ins')
  const device = await echoDevice(t, { copies: 2 })
  const far = await half(t, { in: 'ws/server:127.0.0.1:0/tunnel', out: `udp/broadcast:127.0.0.1:${device.port}`, token: 'browser-token', udpTimeout: '1500ms' })
  const wsPort = far.inAddresses()[0]!.port
  const web = await staticServer(t, [join(ROOT, 'examples/browser'), out])
  const page = `http://127.0.0.1:${web}/index.html?relay=${encodeURIComponent(`ws://127.0.0.1:${wsPort}/tunnel`)}&token=browser-token&payload=ping%20device&wait=1500&autosend=1`
  const r = await run(['node', join(ROOT, 'test/helpers/chromium.mjs'), page, '20000'], 40_000)
  const shown = JSON.parse(r.stdout.trim().split('\n').pop() || '{}') as { status?: string; replies?: string; console?: string[] }
  assert.equal(shown.status, 'done: 2 replies', `${r.stdout}\n${r.stderr}`)
  assert.match(shown.replies!, /^reply: reply0:ping device {2}\[72 65 70 6c 79 30 3a/m)
  assert.match(shown.replies!, /^reply: reply1:ping device/m)
  // A wrong token: the server refuses the upgrade and the page says so.
  const refused = await run(['node', join(ROOT, 'test/helpers/chromium.mjs'), page.replace('token=browser-token', 'token=wrong'), '20000'], 40_000)
  assert.match(JSON.parse(refused.stdout.trim().split('\n').pop() || '{}').status ?? refused.stdout, /^failed: WebSocket to .* failed/)
}, { timeout: 60_000 })

test('headless chromium: relay.openStream(host, port) in the example page, a TCP stream through the far half\'s tcp/dial to an echo server and back; a destination --allow refuses is shown as not_allowed', async (t) => {
  const out = await browserBundle(t)
  const echo = await echoServer(t)
  const far = await half(t, { in: 'ws/server:127.0.0.1:0/tunnel', out: 'tcp/dial', allow: `127.0.0.1:${echo.port}`, token: 'browser-token' })
  const wsPort = far.inAddresses()[0]!.port
  const web = await staticServer(t, [join(ROOT, 'examples/browser'), out])
  const unit = 'über a TCP stream from chromium '
  const text = unit.repeat(4000)
  const page = (to: string) => `http://127.0.0.1:${web}/index.html?relay=${encodeURIComponent(`ws://127.0.0.1:${wsPort}/tunnel`)}&token=browser-token&stream=${encodeURIComponent(to)}&send=${encodeURIComponent(unit)}&repeat=4000&autostream=1`
  const r = await run(['node', join(ROOT, 'test/helpers/chromium.mjs'), page(`127.0.0.1:${echo.port}`), '20000'], 40_000)
  const shown = JSON.parse(r.stdout.trim().split('\n').pop() || '{}') as { status?: string; replies?: string }
  const bytes = new TextEncoder().encode(text).length
  assert.equal(shown.status, `done: ${bytes} bytes, then the other end closed`, `${r.stdout.slice(0, 2000)}\n${r.stderr}`)
  assert.ok(shown.replies === text, `the echo came back whole (${shown.replies?.length} characters of ${text.length})`)
  assert.deepEqual(echo.endings, ['end'], 'closing the writable in the page reached the echo server as a FIN')
  const refused = await run(['node', join(ROOT, 'test/helpers/chromium.mjs'), page('127.0.0.1:9'), '20000'], 40_000)
  assert.match(JSON.parse(refused.stdout.trim().split('\n').pop() || '{}').status ?? refused.stdout, /^failed: not_allowed: .*not allowed by this half's --allow/)
}, { timeout: 60_000 })
