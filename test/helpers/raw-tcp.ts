import net from 'node:net'
import type { TestContext } from '../harness.ts'
import { concat } from './bytes.mjs'
import { needPeers } from './peers.ts'
import { run } from './processes.ts'

export interface RawConn {
  socket: net.Socket
  data(): Uint8Array
  closed: Promise<void>
  isClosed(): boolean
  write(bytes: Uint8Array): void
  /**
   * Writes `bytes` and resolves once the write has completed and the event loop has reached its
   * timers: a server in this process has been handed them, as a read of their own (checked on
   * all three runtimes; on Deno, setImmediate comes too early for that).
   */
  deliver(bytes: Uint8Array): Promise<void>
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
        data: () => concat(chunks),
        write: (bytes) => void socket.write(bytes),
        deliver: (bytes) => new Promise<void>((resolve) => socket.write(bytes, () => setTimeout(resolve, 0))),
      })
    })
    socket.once('error', reject)
  })
}

/**
 * How many connections to 127.0.0.1:port wait in the kernel's accept queue, not yet taken by the
 * server (ss shows the queue's length as the listening socket's Recv-Q).
 */
export async function acceptQueue(port: number): Promise<number> {
  needPeers('ss')
  const r = await run(['ss', '-Hltn', `sport = :${port}`])
  const line = r.stdout.split('\n').find((l) => l.includes(`127.0.0.1:${port}`))
  if (!line) throw new Error(`nothing listens on 127.0.0.1:${port}: ${r.stdout}${r.stderr}`)
  return Number(line.trim().split(/\s+/)[1])
}
