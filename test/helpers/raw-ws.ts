import net from 'node:net'
import type { TestContext } from '../harness.ts'
import { concat } from './bytes.mjs'

/**
 * A deliberately bare WebSocket client over node:net (RFC 6455 by hand), to send what a proper
 * library would not: wrong subprotocols, text frames, torn frames, and a client that stops
 * reading. Server frames are parsed; control frames are recorded, pings not answered.
 */
export interface RawWs {
  /** HTTP status of the upgrade response. */
  status: number
  headers: Record<string, string>
  /** Body of a refused upgrade (read until the server closed). */
  body: string
  socket: net.Socket
  /** Binary and text messages received, in order. */
  messages: { opcode: number; data: Uint8Array }[]
  /** Close frame code from the server, if one came. */
  closeCode(): number | undefined
  closed: Promise<void>
  isClosed(): boolean
  /** Sends one frame (masked, as a client must). */
  send(data: Uint8Array, opcode?: number): void
}

export interface RawWsOptions {
  path?: string
  protocols?: string[]
  headers?: Record<string, string>
  host?: string
  /** Stop reading right after the upgrade (the kernel buffers fill, the server must cope). */
  pauseAfterUpgrade?: boolean
}

export function encodeClientFrame(data: Uint8Array, opcode = 2): Uint8Array {
  const mask = crypto.getRandomValues(new Uint8Array(4))
  const len = data.length
  const head = len < 126 ? 2 : len < 65536 ? 4 : 10
  const out = new Uint8Array(head + 4 + len)
  out[0] = 0x80 | opcode
  if (len < 126) out[1] = 0x80 | len
  else if (len < 65536) {
    out[1] = 0x80 | 126
    out[2] = len >> 8
    out[3] = len & 0xff
  } else {
    out[1] = 0x80 | 127
    new DataView(out.buffer).setBigUint64(2, BigInt(len))
  }
  out.set(mask, head)
  for (let i = 0; i < len; i++) out[head + 4 + i] = data[i]! ^ mask[i % 4]!
  return out
}

export function rawWebSocket(t: TestContext, port: number, opts: RawWsOptions = {}): Promise<RawWs> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: opts.host ?? '127.0.0.1', noDelay: true })
    socket.on('error', () => {})
    t.defer(() => socket.destroy())
    let buf: Uint8Array = new Uint8Array(0)
    let upgraded = false
    let answered = false
    let closedFlag = false
    let closeCode: number | undefined
    const messages: RawWs['messages'] = []
    const closed = new Promise<void>((r) => socket.on('close', () => {
      closedFlag = true
      r()
    }))
    let ws: RawWs
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))))
    const lines = [
      `GET ${opts.path ?? '/'} HTTP/1.1`,
      `Host: 127.0.0.1:${port}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${key}`,
      'Sec-WebSocket-Version: 13',
      ...(opts.protocols ? [`Sec-WebSocket-Protocol: ${opts.protocols.join(', ')}`] : []),
      ...Object.entries(opts.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
      '',
      '',
    ]
    const parseFrames = () => {
      for (;;) {
        if (buf.length < 2) return
        const opcode = buf[0]! & 0x0f
        let len = buf[1]! & 0x7f
        let off = 2
        if (len === 126) {
          if (buf.length < 4) return
          len = (buf[2]! << 8) | buf[3]!
          off = 4
        } else if (len === 127) {
          if (buf.length < 10) return
          len = Number(new DataView(buf.buffer, buf.byteOffset).getBigUint64(2))
          off = 10
        }
        if (buf.length < off + len) return
        const data = buf.slice(off, off + len)
        buf = buf.slice(off + len)
        if (opcode === 8) {
          // Answer the close handshake as RFC 6455 §5.5.1 asks, then hang up.
          closeCode = data.length >= 2 ? (data[0]! << 8) | data[1]! : 1005
          socket.end(encodeClientFrame(data.subarray(0, 2), 8))
        }
        else if (opcode === 1 || opcode === 2) messages.push({ opcode, data })
      }
    }
    let refusalDone = false
    const finishRefusal = () => {
      if (refusalDone) return
      const length = ws.headers['content-length']
      if (!closedFlag && (length === undefined || buf.length < Number(length))) return
      refusalDone = true
      ws.body = new TextDecoder().decode(buf)
      resolve(ws)
    }
    socket.on('data', (chunk: Uint8Array) => {
      buf = concat([buf, new Uint8Array(chunk)])
      if (!answered) {
        const text = new TextDecoder().decode(buf)
        const end = text.indexOf('\r\n\r\n')
        if (end < 0) return
        answered = true
        const [statusLine, ...headerLines] = text.slice(0, end).split('\r\n')
        const status = Number(statusLine!.split(' ')[1])
        const headers: Record<string, string> = {}
        for (const l of headerLines) {
          const i = l.indexOf(':')
          headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim()
        }
        buf = buf.slice(new TextEncoder().encode(text.slice(0, end + 4)).length)
        upgraded = status === 101
        ws = {
          status,
          headers,
          body: '',
          socket,
          messages,
          closeCode: () => closeCode,
          closed,
          isClosed: () => closedFlag,
          send: (data, opcode = 2) => void socket.write(encodeClientFrame(data, opcode)),
        }
        if (upgraded) {
          if (opts.pauseAfterUpgrade) socket.pause()
          parseFrames()
          resolve(ws)
        } else {
          // A refusal: the body follows (content-length, or until the server closes).
          void closed.then(finishRefusal)
          finishRefusal()
        }
        return
      }
      if (upgraded) parseFrames()
      else finishRefusal()
    })
    socket.once('connect', () => socket.write(lines.join('\r\n')))
    socket.once('error', reject)
    setTimeout(() => {
      if (!answered) reject(new Error('no upgrade response within 5 s'))
    }, 5000)
  })
}
