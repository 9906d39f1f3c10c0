/**
 * ZeroMQ as a tunnel transport: `zmq/server:<host>:<port>` is a ROUTER that binds, and
 * `zmq/client:<host>:<port>` a DEALER that connects, both speaking ZMTP 3.1 over TCP with the NULL
 * mechanism, so either side can be a libzmq program (pyzmq, czmq, ...).
 *
 * Why DEALER/ROUTER: requests and replies are asynchronous and many may be in flight (REQ/REP
 * allows one at a time), and a ROUTER serves many near halves at once, each connection its own
 * tunnel session with its own flows, exactly as tcp/server does. PUB/SUB and PUSH/PULL carry one
 * direction only.
 *
 * Why ZMTP in TypeScript instead of the npm `zeromq` package: its prebuilt addon loads on Node and
 * Deno, but Bun aborts in it (`unsupported uv function: uv_poll_init_socket`), and it would add a
 * native binary to a package that otherwise runs from source. The subset needed is small
 * (src/protocol/zmtp.ts).
 *
 * Frames: each single-part ZeroMQ message carries one `u32 length | codec bytes` frame, as a
 * WebSocket message does. No edgerelay hello: the READY command carries the codec
 * (`X-Edgerelay-Codec`) and, from the client, the token (`X-Edgerelay-Token`, the libzmq socket
 * option ZMQ_METADATA sets it); a mismatch or a wrong token is refused with an ERROR command. A
 * libzmq peer that names no codec is taken to speak this half's. NULL has no encryption: the token
 * travels in clear, as on tcp/.
 */
import type { HalfContext } from '../core/connector.ts'
import { endpointOf, fixedCodec } from '../core/connector.ts'
import { RelayError } from '../base/errors.ts'
import { MAX_ENCODED_FRAME } from '../protocol/frame.ts'
import { negotiatedWire } from '../protocol/wire.ts'
import { wireFor } from '../protocol/wire-for.ts'
import type { ConnectorSpec } from '../net/connector-string.ts'
import { formatAddress } from '../base/address.ts'
import { peerKey } from '../base/limits.ts'
import { tcpClientDial, tcpTransport } from './tcp.ts'
import { tunnelConnector, type StreamTransport } from './stream-tunnel.ts'
import { zmtpHandshake, type ZmtpOptions } from './zmtp-conn.ts'

export function zmqTransport(ctx: HalfContext, role: 'server' | 'client', spec: ConnectorSpec): StreamTransport {
  const name = `zmq/${role}`
  const codec = fixedCodec(ctx, spec.text)
  if (codec === 'uhppoted') throw new RelayError('E_CONFIG', `${spec.text}: --codec uhppoted is uhppoted-tunnel's TCP framing; zmq carries edgerelay codecs (protobuf, avro, msgpack)`)
  const tcp = tcpTransport(ctx, role, spec.text, endpointOf(spec))
  const dial = role === 'client' ? tcpClientDial(ctx, name, spec.text, endpointOf(spec), tcp) : undefined
  const log = ctx.logger.child(name)
  const limited = ctx.warnings.through(log)
  const zmtp: ZmtpOptions = {
    role,
    codec,
    token: ctx.options.token,
    handshakeTimeoutMs: ctx.options.helloTimeoutMs,
    maxMessage: MAX_ENCODED_FRAME + 4,
    drops: ctx.drops,
    stats: ctx.stats,
  }
  return {
    name,
    wire: negotiatedWire(wireFor(codec), { messageFramed: true }),
    // The gate's ticket goes on with the connection: its session marks it authenticated (the
    // handshake checked the token).
    listen: (addr, port, onConnection) => tcp.listen(addr, port, (raw, ticket) => {
      zmtpHandshake(raw, zmtp).then((conn) => onConnection(conn, ticket), (err: Error) => {
        // Refused handshakes are what a flood of peers causes: rate-limited per kind and peer.
        const code = (err as { code?: string }).code
        limited.warn(`${name} refused ${code ?? 'handshake'}`, peerKey(raw.remote.address), `ZMTP peer ${formatAddress(raw.remote)} not accepted: ${err.message}`, { peer: formatAddress(raw.remote), code })
      })
    }),
    async dial(signal) {
      const raw = await dial!(signal)
      const abort = () => raw.destroy()
      signal.addEventListener('abort', abort, { once: true })
      try {
        return await zmtpHandshake(raw, zmtp)
      } finally {
        signal.removeEventListener('abort', abort)
      }
    },
  }
}

export const zmqConnector = tunnelConnector(zmqTransport)
