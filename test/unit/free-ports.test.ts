import assert from 'node:assert/strict'
import net from 'node:net'
import { test } from '../harness.ts'
import { isAddressInUse, onFreePorts } from '../helpers/free-ports.mjs'
import { half } from '../helpers/halves.ts'
import { withFreePorts } from '../helpers/with-free-ports.ts'

// A port that was free a moment ago may be taken by another process before ours binds it: the
// helpers that start things on free ports start them again on new ports (item 5 of issue 11).

/** Listens on 127.0.0.1:port; rejects with the socket error (EADDRINUSE when taken). */
function listen(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve(server))
  })
}

const close = (s: net.Server) => new Promise<void>((r) => s.close(() => r()))

test('a port taken between "free" and "bind" is retried on a new port', async (t) => {
  const tried: number[] = []
  const server = await onFreePorts(1, async ([port]) => {
    tried.push(port!)
    // Another process takes the port first, on the first attempt only.
    if (tried.length === 1) t.defer(await listen(port!).then((s) => () => close(s)))
    return listen(port!)
  })
  t.defer(() => close(server))
  assert.equal(tried.length, 2)
  assert.notEqual(tried[0], tried[1])
  assert.equal((server.address() as net.AddressInfo).port, tried[1])
})

test('retries are bounded, and other failures are not retried', async () => {
  let calls = 0
  await assert.rejects(onFreePorts(2, async () => {
    calls++
    throw Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' })
  }, { attempts: 3 }), /a port was taken in each of 3 attempts/)
  assert.equal(calls, 3)
  calls = 0
  await assert.rejects(onFreePorts(1, async () => {
    calls++
    throw new Error('certificate rejected')
  }), /certificate rejected/)
  assert.equal(calls, 1)
})

test('the clash is recognised in a half\'s E_LISTEN, a CLI\'s output and dnsmasq\'s message', async (t) => {
  const taken = await listen(0)
  t.defer(() => close(taken))
  const port = (taken.address() as net.AddressInfo).port
  const err = await half(t, { in: `tcp/server:127.0.0.1:${port}`, out: 'udp/broadcast:127.0.0.1:9' }).then(() => undefined, (e: unknown) => e)
  assert.ok(isAddressInUse(err), String(err))
  assert.ok(isAddressInUse(new Error('process exited before printing /listening on/; output:\nedgerelay: tcp/server:127.0.0.1:1: cannot listen: listen EADDRINUSE: address already in use [E_LISTEN]')))
  assert.ok(isAddressInUse(new Error('dnsmasq: failed to create listening socket for 127.0.0.1: Address already in use')))
  assert.ok(!isAddressInUse(new Error('connect ECONNREFUSED 127.0.0.1:9')))
})

test('withFreePorts stops what a clashing attempt started before it tries again; what a good attempt started lives until the test ends', async (t) => {
  const stopped: number[] = []
  let attempts = 0
  const h = await withFreePorts(t, 1, async ([port], scope) => {
    attempts++
    scope.defer(() => stopped.push(attempts))
    if (attempts === 1) {
      t.defer(await listen(port!).then((s) => () => close(s)))
    }
    return half(scope, { in: `tcp/server:127.0.0.1:${port}`, out: 'udp/broadcast:127.0.0.1:9' })
  })
  assert.equal(attempts, 2)
  assert.deepEqual(stopped, [1], 'the first attempt was cleaned up, the second not yet')
  assert.ok(h.inAddresses()[0]!.port > 0)
})
