import dgram from 'node:dgram'
import { slabCopy } from '../../base/slab.ts'
import type { ConnectedUdpSocket, UdpConnectOptions } from '../../ports/runtime.ts'

/**
 * A connected UDP socket through node:dgram (bind, then connect(2)), so the kernel drops
 * datagrams from anyone but the remote and reports ICMP errors. Bun's and Deno's node:dgram
 * implement connect() too, so their adapters use this one; Deno's delivers other sources anyway,
 * so every datagram's source is checked here as well.
 */
export function connectUdp(opts: UdpConnectOptions): Promise<ConnectedUdpSocket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type: opts.family === 6 ? 'udp6' : 'udp4' })
    const fail = (err: Error) => {
      socket.close()
      reject(err)
    }
    socket.once('error', fail)
    const remote = opts.address.replace(/%.*$/, '').toLowerCase()
    socket.on('message', (msg, rinfo) => {
      // Deno's node:dgram connect() does not filter in the kernel: check every source here.
      if (rinfo.port !== opts.port || rinfo.address.replace(/%.*$/, '').toLowerCase() !== remote) return opts.onStray?.(rinfo.address, rinfo.port)
      try {
        opts.onMessage(msg)
      } catch (err) {
        opts.onError?.(err as Error)
      }
    })
    socket.bind({ address: opts.localAddress ?? (opts.family === 6 ? '::' : '0.0.0.0'), port: 0 }, () => {
      // A failed connect(2) (EHOSTUNREACH on an unreachable route, EINVAL on a blackhole) comes
      // to this callback, not to 'error': sending on that unconnected socket would throw.
      socket.connect(opts.port, opts.address, (err?: Error) => {
        if (err) return fail(err)
        socket.off('error', fail)
        socket.on('error', (err) => opts.onError?.(err))
        const onSent = (err: Error | null) => {
          if (err) opts.onError?.(err)
        }
        const local = socket.address()
        let closed = false
        resolve({
          local: { address: local.address, port: local.port, family: opts.family },
          remote: { address: opts.address, port: opts.port, family: opts.family },
          send(data) {
            if (closed) return
            socket.send(slabCopy(data), onSent)
          },
          close() {
            if (closed) return
            closed = true
            socket.close()
          },
        })
      })
    })
  })
}
