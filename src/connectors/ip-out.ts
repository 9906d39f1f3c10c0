/**
 * `ip/out:<broadcast address>` (uhppoted-tunnel's IP/out): requests for a controller listed in
 * `controllers` (uhppoted-tunnel's [section.controllers]) go straight to it, over UDP
 * (`udp::host:port`, or `host:port`) or TCP (`tcp::host:port`); everything else is broadcast as
 * udp/broadcast does. A request is for a controller when it is a 64-byte UHPPOTE request (byte 0
 * = 0x17): its serial number is the little-endian u32 at bytes 4–7. A direct request expects one
 * reply within --udp-timeout (TCP: the 64-byte reply), then its socket or connection is closed.
 */
import type { ResolvedAddress, UdpSocket } from '../ports/runtime.ts'
import type { ConnectorFactory, HalfContext, OutConnector, PacketKind } from '../core/connector.ts'
import { endpointOf } from '../core/connector.ts'
import type { Flow } from '../core/flow.ts'
import { RelayError } from '../base/errors.ts'
import { hostPort } from '../base/address.ts'
import type { ConnectorSpec } from '../net/connector-string.ts'
import { raceTcp } from '../net/dial.ts'
import { type Endpoint, parseHostPort } from '../net/endpoint.ts'
import { resolveConnect } from '../net/resolve.ts'
import { udpBroadcastOut } from './udp-broadcast.ts'
import { controllerOf, UHPPOTE_SIZE } from '../protocol/uhppote-packet.ts'


interface Route {
  transport: 'udp' | 'tcp'
  endpoint: Endpoint
  text: string
  /** Resolved at start. */
  address?: ResolvedAddress
}

export { controllerOf }

/** `udp::host:port`, `tcp::host:port` or `host:port` (UDP), as uhppoted-tunnel writes routes. */
export function parseRoute(text: string, where: string): Route {
  const m = /^(udp|tcp)::(.*)$/s.exec(text)
  const transport = m ? (m[1] as 'udp' | 'tcp') : 'udp'
  const rest = m ? m[2]! : text
  try {
    return { transport, endpoint: parseHostPort(rest, { role: 'connect' }), text }
  } catch (err) {
    throw new RelayError('E_CONFIG', `${where}: controller route '${text}' is not udp::host:port or tcp::host:port: ${(err as Error).message}`, { cause: err })
  }
}

export function ipOut(ctx: HalfContext, spec: ConnectorSpec): OutConnector {
  const log = ctx.logger.child('ip/out')
  const broadcast = udpBroadcastOut(ctx, endpointOf(spec), spec.text)
  const routes = new Map<number, Route>()
  for (const [serial, text] of Object.entries(ctx.options.controllers ?? {})) routes.set(Number(serial), parseRoute(text, `${spec.text} controller ${serial}`))
  /** Direct requests awaiting their reply, each with its own socket: bounded as uhppoted framing's reply windows. */
  const open = new Set<() => void>()
  const limit = ctx.options.maxReplyWindows

  const deliver = (flow: Flow, id: number, data: Uint8Array) => {
    ctx.stats.add('ip.replies')
    flow.reply(id, data)
  }

  const udpSend = async (route: Route, flow: Flow, id: number, payload: Uint8Array) => {
    const target = route.address!
    let socket: UdpSocket | undefined
    let finished = false
    const finish = () => {
      if (finished) return
      finished = true
      clearTimeout(timer)
      socket?.close()
      open.delete(finish)
    }
    const timer = setTimeout(finish, ctx.options.udpTimeoutMs)
    open.add(finish)
    try {
      socket = await ctx.runtime.bindUdp({
        address: target.family === 6 ? '::' : '0.0.0.0',
        port: 0,
        family: target.family,
        onMessage: (data, from, port) => {
          if (finished) return
          if (from !== target.address || port !== route.endpoint.port) {
            ctx.drops.drop('ip_foreign_reply', `${route.text}: datagram from ${hostPort(from, port)} ignored`)
            return
          }
          deliver(flow, id, data.slice())
          finish()
        },
        onError: (err) => log.warn(`${route.text}: ${err.message}`),
      })
      if (finished) return socket.close()
      socket.send(payload, route.endpoint.port, target.address)
    } catch (err) {
      log.warn(`${route.text}: ${(err as Error).message}`)
      finish()
    }
  }

  const tcpSend = async (route: Route, flow: Flow, id: number, payload: Uint8Array) => {
    const abort = new AbortController()
    let finished = false
    const finish = () => {
      if (finished) return
      finished = true
      clearTimeout(timer)
      abort.abort()
      open.delete(finish)
    }
    const timer = setTimeout(() => {
      if (!finished) ctx.drops.drop('ip_tcp_timeout', `${route.text}: no reply within ${ctx.options.udpTimeoutMs} ms`)
      finish()
    }, ctx.options.udpTimeoutMs)
    open.add(finish)
    try {
      const conn = await raceTcp(ctx.runtime, route.text, [route.address!], route.endpoint.port, { timeoutMs: ctx.options.udpTimeoutMs, signal: abort.signal })
      if (finished) return conn.destroy()
      abort.signal.addEventListener('abort', () => conn.destroy(), { once: true })
      const reply = new Uint8Array(UHPPOTE_SIZE)
      let got = 0
      conn.setHandlers({
        onData(chunk) {
          const n = Math.min(chunk.length, UHPPOTE_SIZE - got)
          reply.set(chunk.subarray(0, n), got)
          got += n
          if (got === UHPPOTE_SIZE) {
            deliver(flow, id, reply)
            finish()
          }
        },
        onClose(err) {
          if (!finished && got > 0) ctx.drops.drop('ip_tcp_short_reply', `${route.text}: connection closed after ${got} of ${UHPPOTE_SIZE} reply bytes`)
          else if (!finished && err) log.warn(`${route.text}: ${err.message}`)
          finish()
        },
      })
      conn.write(payload)
    } catch (err) {
      if (!finished) log.warn(`${route.text}: ${(err as Error).message}`)
      finish()
    }
  }

  return {
    async start() {
      await broadcast.start()
      for (const [serial, route] of routes) {
        route.address = (await resolveConnect(ctx.runtime, route.endpoint, route.text, ctx.options.family))[0]
        log.info(`controller ${serial}: ${route.transport} ${hostPort(route.address!.address, route.endpoint.port)}`)
      }
    },
    send(flow: Flow, kind: PacketKind, id: number, payload: Uint8Array) {
      const serial = kind === 'request' ? controllerOf(payload) : undefined
      const route = serial === undefined ? undefined : routes.get(serial)
      if (!route) return broadcast.send(flow, kind, id, payload)
      if (open.size >= limit) {
        ctx.drops.drop('ip_direct_limit', `${flow.label}: ${limit} direct requests already await replies`)
        return
      }
      ctx.stats.add(`ip.sent.${route.transport}`)
      // The request is copied: the payload is only valid during this call.
      if (route.transport === 'udp') void udpSend(route, flow, id, payload.slice())
      else void tcpSend(route, flow, id, payload.slice())
    },
    async close() {
      for (const finish of [...open]) finish()
      await broadcast.close()
    },
    addresses: () => broadcast.addresses?.() ?? [],
  }
}

export const ipOutConnector: ConnectorFactory = { out: (s, ctx) => ipOut(ctx, s) }
