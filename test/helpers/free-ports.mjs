// @ts-self-types="./free-ports.d.mts"
/**
 * Free ports on 127.0.0.1, for tests and bench scripts alike (plain JavaScript, types in
 * free-ports.d.mts: bench/*.mjs run on node without a TypeScript loader).
 *
 * A port that was free a moment ago can be taken by another process before ours binds it. So a
 * program is started through onFreePorts, which picks new ports and starts it again when the
 * start fails with EADDRINUSE, a bounded number of times: a clash is retried, never a flake.
 */
import dgram from 'node:dgram'
import net from 'node:net'

/** A port that was free a moment ago on 127.0.0.1 for both TCP and UDP, not one of `avoid`. */
export async function freePort({ avoid = [] } = {}) {
  const avoided = new Set(avoid)
  for (let i = 0; i < 50; i++) {
    const port = await new Promise((resolve, reject) => {
      const srv = net.createServer()
      srv.once('error', reject)
      srv.listen(0, '127.0.0.1', () => {
        const p = srv.address().port
        srv.close(() => resolve(p))
      })
    })
    if (avoided.has(port)) continue
    const udpFree = await new Promise((resolve) => {
      const s = dgram.createSocket('udp4')
      s.once('error', () => resolve(false))
      s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)))
    })
    if (udpFree) return port
  }
  throw new Error('no free port found in 50 tries')
}

/** Whether `err` (or its cause) says an address was in use: an errno, or a program's message. */
export function isAddressInUse(err) {
  if (!err) return false
  if (err.code === 'EADDRINUSE' || err.errno === 'EADDRINUSE') return true
  if (/EADDRINUSE|address already in use/i.test(String(err.message ?? err))) return true
  return err.cause !== undefined && err.cause !== err && isAddressInUse(err.cause)
}

/**
 * Calls `start(ports)` with `count` distinct free ports. When it fails because a port was taken
 * meanwhile, it is called again with new ports, at most `attempts` times in all; any other
 * failure is thrown at once. `start` must stop what it started before it throws.
 */
export async function onFreePorts(count, start, { attempts = 5, avoid = [] } = {}) {
  let clash
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const ports = []
    while (ports.length < count) ports.push(await freePort({ avoid: [...avoid, ...ports] }))
    try {
      return await start(ports)
    } catch (err) {
      if (!isAddressInUse(err)) throw err
      clash = err
    }
  }
  throw new Error(`a port was taken in each of ${attempts} attempts; the last: ${clash?.message ?? clash}`, { cause: clash })
}
