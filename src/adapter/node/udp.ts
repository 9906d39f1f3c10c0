import dgram from 'node:dgram'
import { slabCopy } from '../../base/slab.ts'
import type { UdpBindOptions, UdpSocket } from '../../ports/runtime.ts'

/**
 * UDP through node:dgram. Used on Node; Bun and Deno have faster native paths of their own.
 * `setup` runs on the bound socket before it is handed out (multicast options); if it throws,
 * the socket is closed and the bind fails with that error.
 */
export function bindUdp(opts: UdpBindOptions, setup?: (socket: dgram.Socket) => void): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({
      type: opts.family === 6 ? 'udp6' : 'udp4',
      reuseAddr: opts.reuseAddr ?? false,
      ...(opts.reusePort ? { reusePort: true } : {}),
      ipv6Only: opts.ipv6Only ?? false,
      // Large bursts of replies (broadcast answered by many devices) must not be dropped by a tiny default buffer.
      recvBufferSize: 1 << 20,
      sendBufferSize: 1 << 20,
    })
    const onBindError = (err: Error) => {
      socket.close()
      reject(err)
    }
    socket.once('error', onBindError)
    socket.on('message', (msg, rinfo) => {
      // A throwing handler must cost one datagram, not the process (same as the Bun/Deno adapters).
      try {
        opts.onMessage(msg, rinfo.address, rinfo.port)
      } catch (err) {
        opts.onError?.(err as Error)
      }
    })
    socket.bind(opts.fd !== undefined ? { fd: opts.fd } : { address: opts.address, port: opts.port, exclusive: true }, () => {
      socket.off('error', onBindError)
      socket.on('error', (err) => opts.onError?.(err))
      try {
        if (opts.broadcast) socket.setBroadcast(true)
        setup?.(socket)
      } catch (err) {
        socket.close()
        reject(err)
        return
      }
      // One shared callback: no closure per datagram on the hot path.
      const onSent = (err: Error | null) => {
        if (err) opts.onError?.(err)
      }
      const addr = socket.address()
      let closed = false
      resolve({
        local: { address: addr.address, port: addr.port, family: opts.family },
        send(data, port, address) {
          if (closed) return
          // Copied: node:dgram sends on a later tick (its address lookup), the caller may reuse `data` now.
          socket.send(slabCopy(data), port, address, onSent)
        },
        close() {
          if (closed) return
          closed = true
          socket.close()
        },
      })
    })
  })
}
