// The page's logic: the relay client module (src/browser/client.ts, bundled for browsers as
// edgerelay-browser.js with `bun build --target browser`) does the protocol.
import { connectRelay } from './edgerelay-browser.js'

const $ = (id) => document.getElementById(id)
const params = new URLSearchParams(location.search)
for (const key of ['relay', 'token', 'codec', 'payload', 'wait']) if (params.has(key)) $(key).value = params.get(key)

const hex = (bytes) => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ')
const text = (bytes) => new TextDecoder().decode(bytes)

async function send() {
  const status = $('status')
  const out = $('replies')
  out.textContent = ''
  status.textContent = 'connecting'
  try {
    const relay = await connectRelay($('relay').value, { codec: $('codec').value, token: $('token').value || undefined })
    relay.onEvent = (payload) => (out.textContent += `event: ${text(payload)}\n`)
    relay.onError = (message) => (out.textContent += `error from the relay: ${message}\n`)
    status.textContent = `sent over ${relay.protocol}`
    const replies = await relay.request(new TextEncoder().encode($('payload').value), {
      waitMs: Number($('wait').value),
      all: true,
      onReply: (payload) => (out.textContent += `reply: ${text(payload)}  [${hex(payload)}]\n`),
    })
    relay.close()
    status.textContent = `done: ${replies.length} ${replies.length === 1 ? 'reply' : 'replies'}`
  } catch (err) {
    status.textContent = `failed: ${err.message}`
  }
}

$('form').addEventListener('submit', (ev) => {
  ev.preventDefault()
  void send()
})
if (params.has('autosend')) void send()
