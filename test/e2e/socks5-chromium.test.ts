/**
 * Headless chromium (Debian's, driven by playwright-core) started with
 * --proxy-server=socks5://127.0.0.1:PORT loads a page served behind the far half, by a name only
 * the far half resolves (web.test), and the page's own fetch comes back through a second stream.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import type net from 'node:net'
import { join } from 'node:path'
import { test } from '../harness.ts'
import type { TestContext } from '../harness.ts'
import { needPeers } from '../helpers/peers.ts'
import { ROOT, run } from '../helpers/processes.ts'
import { proxyHalves } from '../helpers/proxies.ts'
import { transports } from '../helpers/tcp-streams.ts'

const PAGE = `<!doctype html><title>behind the far half</title>
<p id="status">loading</p><pre id="replies"></pre>
<script>
fetch('/data').then((r) => r.text()).then((t) => {
  document.getElementById('replies').textContent = t
  document.getElementById('status').textContent = 'done'
}, (e) => { document.getElementById('status').textContent = 'failed: ' + e })
</script>`

/** The page and its /data, answering with the Host header each request came with. */
async function site(t: TestContext): Promise<{ port: number; hosts: string[] }> {
  const hosts: string[] = []
  const server = http.createServer((req, res) => {
    hosts.push(req.headers.host ?? '')
    if (req.url === '/') return void res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE)
    if (req.url === '/data') return void res.writeHead(200, { 'content-type': 'text/plain' }).end(`data for ${req.headers.host}`)
    res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.defer(() => {
    server.closeAllConnections?.()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return { port: (server.address() as net.AddressInfo).port, hosts }
}

for (const tr of transports().filter((x) => x.name === 'tcp' || x.name === 'ws')) {
  test(`headless chromium with --proxy-server=socks5:// loads a page by a name only the far half resolves (${tr.name})`, async (t) => {
    needPeers('chromium')
    const web = await site(t)
    const { port, near } = await proxyHalves(t, tr, 'socks5/listen:127.0.0.1:0', `127.0.0.1:${web.port}`)
    const r = await run(['node', join(ROOT, 'test/helpers/chromium.mjs'), `http://web.test:${web.port}/`, '20000', `socks5://127.0.0.1:${port}`], 40_000)
    const shown = JSON.parse(r.stdout.trim().split('\n').pop() || '{}') as { status?: string; replies?: string }
    assert.equal(shown.status, 'done', `${r.stdout}\n${r.stderr}`)
    assert.equal(shown.replies, `data for web.test:${web.port}`)
    assert.ok(web.hosts.includes(`web.test:${web.port}`))
    assert.ok(near.stats.get('proxy.socks5.opened') >= 1)
  }, { timeout: 60_000 })
}
