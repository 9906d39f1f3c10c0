// The page's logic: the relay client module (src/browser/client.ts, bundled for browsers as
// edgerelay-browser.js with `bun build --target browser`) does the protocol.
import { connectRelay } from './edgerelay-browser.js'

const $ = (id) => document.getElementById(id)
const params = new URLSearchParams(location.search)
for (const key of ['relay', 'token', 'codec', 'payload', 'wait', 'stream']) if (params.has(key)) $(key).value = params.get(key)
if (params.has('send')) $('send-text').value = params.get('send')

const hex = (bytes) => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ')
const text = (bytes) => new TextDecoder().decode(bytes)

/** Clears the output, connects with the form's settings and runs `work`; the status line says how it ended. */
async function withRelay(work) {
  const status = $('status')
  const out = $('replies')
  out.textContent = ''
  status.textContent = 'connecting'
  try {
    const relay = await connectRelay($('relay').value, { codec: $('codec').value, token: $('token').value || undefined })
    status.textContent = await work(relay, out, status)
    relay.close()
  } catch (err) {
    status.textContent = `failed: ${err.streamCode ? `${err.streamCode}: ` : ''}${err.message}`
  }
}

const send = () => withRelay(async (relay, out, status) => {
  relay.onEvent = (payload) => (out.textContent += `event: ${text(payload)}\n`)
  relay.onError = (message) => (out.textContent += `error from the relay: ${message}\n`)
  status.textContent = `sent over ${relay.protocol}`
  const replies = await relay.request(new TextEncoder().encode($('payload').value), {
    waitMs: Number($('wait').value),
    all: true,
    onReply: (payload) => (out.textContent += `reply: ${text(payload)}  [${hex(payload)}]\n`),
  })
  return `done: ${replies.length} ${replies.length === 1 ? 'reply' : 'replies'}`
})

// A TCP stream: relay.openStream(host, port) gives WHATWG { readable, writable }.
const openStream = () => withRelay(async (relay, out, status) => {
  const target = $('stream').value
  const colon = target.lastIndexOf(':')
  const { readable, writable } = await relay.openStream(target.slice(0, colon).replace(/^\[|\]$/g, ''), Number(target.slice(colon + 1)))
  status.textContent = `stream open to ${target}`
  const writer = writable.getWriter()
  // ?repeat=N sends the text N times (a bigger transfer from a short URL).
  await writer.write(new TextEncoder().encode($('send-text').value.repeat(Number(params.get('repeat') ?? 1))))
  await writer.close()
  let bytes = 0
  const decoder = new TextDecoder()
  for await (const chunk of readable) {
    bytes += chunk.length
    out.textContent += decoder.decode(chunk, { stream: true })
  }
  return `done: ${bytes} bytes, then the other end closed`
})

$('stream-form').addEventListener('submit', (ev) => {
  ev.preventDefault()
  void openStream()
})
if (params.has('autostream')) void openStream()

$('form').addEventListener('submit', (ev) => {
  ev.preventDefault()
  void send()
})
if (params.has('autosend')) void send()
