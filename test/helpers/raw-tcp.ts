import net from 'node:net'
import type { TestContext } from '../harness.ts'

export interface RawConn {
  socket: net.Socket
  data(): Uint8Array
  closed: Promise<void>
  isClosed(): boolean
  write(bytes: Uint8Array): void
}

/** A raw TCP connection to poke a tunnel server with arbitrary bytes. */
export function rawConnect(t: TestContext, port: number, host = '127.0.0.1'): Promise<RawConn> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host, noDelay: true })
    const chunks: Uint8Array[] = []
    let closedFlag = false
    const closed = new Promise<void>((r) => socket.on('close', () => {
      closedFlag = true
      r()
    }))
    socket.on('data', (d: Buffer) => chunks.push(new Uint8Array(d)))
    socket.on('error', () => {})
    socket.once('connect', () => {
      t.defer(() => socket.destroy())
      resolve({
        socket,
        closed,
        isClosed: () => closedFlag,
        data: () => {
          const total = chunks.reduce((n, c) => n + c.length, 0)
          const out = new Uint8Array(total)
          let off = 0
          for (const c of chunks) {
            out.set(c, off)
            off += c.length
          }
          return out
        },
        write: (bytes) => void socket.write(bytes),
      })
    })
    socket.once('error', reject)
  })
}
