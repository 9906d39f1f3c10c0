#!/usr/bin/env node
/**
 * Loads a page in Debian's headless chromium (driven by playwright-core; never a downloaded
 * browser), waits until #status says `done` or `failed`, and prints {status, replies, console}
 * as JSON. Always run with Node (playwright talks to chromium over a pipe), whatever runtime runs
 * the test. Usage: node test/helpers/chromium.mjs <url> [timeoutMs] [proxy]
 * With a proxy (`socks5://127.0.0.1:1080`, on loopback) every request goes through it, loopback
 * ones too, and names under .test are allowed: the proxy's far side resolves them.
 */
import { chromium } from 'playwright-core'

const [url, timeoutArg, proxy] = process.argv.slice(2)
const timeout = Number(timeoutArg ?? 15_000)
if (proxy && !/^(socks5|http):\/\/(127\.0\.0\.1|\[::1\]):\d+$/.test(proxy)) throw new Error(`the proxy must be on loopback: ${proxy}`)
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ...(proxy ? [`--proxy-server=${proxy}`, '--proxy-bypass-list=<-loopback>'] : [])],
  timeout,
})
const allowed = proxy ? /^(http|ws):\/\/(127\.0\.0\.1|\[::1\]|[a-z0-9.-]+\.test)(:\d+)?\// : /^(http|ws):\/\/(127\.0\.0\.1|\[::1\])(:\d+)?\//
const logs = []
try {
  const page = await browser.newPage()
  page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`))
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`))
  // Traffic stays on loopback: anything else the page asks for is refused.
  await page.route((u) => !allowed.test(u.href), (route) => route.abort())
  await page.goto(url, { timeout })
  await page.waitForFunction(() => /^(done|failed)/.test(document.getElementById('status')?.textContent ?? ''), undefined, { timeout })
  const status = await page.textContent('#status')
  const replies = await page.textContent('#replies')
  process.stdout.write(JSON.stringify({ status, replies, console: logs }) + '\n')
} catch (err) {
  process.stdout.write(JSON.stringify({ status: `driver error: ${err.message}`, console: logs }) + '\n')
} finally {
  await browser.close()
}
