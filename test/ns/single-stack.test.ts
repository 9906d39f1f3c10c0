/**
 * docs/addresses.md S5 and F5 in single-stack network namespaces (docs/addresses.md#testing-addresses), on each runtime: an
 * IPv4-only namespace (disable_ipv6=1) and an IPv6-only one (no IPv4 address, not even on lo).
 * In both, the private hosts file gives dual.test both records.
 */
import assert from 'node:assert/strict'
import { test, type TestContext } from '../harness.ts'
import { NO_DAD, netns, runScenario, skipWithoutNamespaces } from '../helpers/netns.ts'

const HOSTS = '127.0.0.1 localhost\n::1 localhost\n::1 dual.test\n127.0.0.1 dual.test\n'

const SETUP = {
  v4: ['echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6', 'echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6', 'ip link set lo up'],
  v6: [NO_DAD, 'ip link set lo up', 'ip addr del 127.0.0.1/8 dev lo'],
}

type Check = { ok: true; value: any } | { ok: false; error: string }
const runs = new Map<string, Promise<Record<string, Check>>>()

function results(t: TestContext, only: 'v4' | 'v6'): Promise<Record<string, Check>> {
  const key = `${t.runtime}/${only}`
  let p = runs.get(key)
  if (!p) {
    p = (async () => {
      const cleanups: (() => unknown)[] = []
      try {
        const ns = await netns({ ...t, defer: (fn) => cleanups.push(fn) }, { setup: SETUP[only], hosts: HOSTS })
        return await runScenario<Record<string, Check>>(ns, t.runtime, 'test/ns/scenarios/single-stack.ts', [only], 30_000)
      } finally {
        for (const fn of cleanups.reverse()) await fn()
      }
    })()
    runs.set(key, p)
  }
  return p
}

async function value(t: TestContext, only: 'v4' | 'v6', name: string): Promise<any> {
  const r = (await results(t, only))[name]
  assert.ok(r, `no check '${name}'`)
  if (!r.ok) assert.fail(`${name} failed inside the ${only}-only namespace: ${r.error}`)
  return r.value
}

const ns = (name: string, fn: (t: TestContext) => Promise<void>) => test(name, fn, { timeout: 40_000, unavailable: skipWithoutNamespaces() })

for (const only of ['v4', 'v6'] as const) {
  const missing = only === 'v4' ? 6 : 4
  ns(`S5, F5 (IP${only}-only host): tcp/server:* and udp/listen:* start without IPv${missing} and warn W_FAMILY_UNAVAILABLE`, async (t) => {
    const tcp = await value(t, only, 'tcp-star')
    assert.deepEqual(tcp.addresses, [only === 'v4' ? '0.0.0.0' : '::'])
    assert.ok(tcp.warnings.some((w: string) => w.startsWith(`W_FAMILY_UNAVAILABLE tcp/server:*:0: this host has no IPv${missing} address`)), tcp.warnings.join('\n'))
    assert.equal(tcp.connects, true)
    const udp = await value(t, only, 'udp-star')
    assert.ok(udp.addresses.length >= 1 && udp.addresses.every((a: string) => a.includes(':') === (only === 'v6')), udp.addresses.join(' '))
    assert.ok(udp.warnings.some((w: string) => w.startsWith(`W_FAMILY_UNAVAILABLE udp/listen:*:0: this host has no IPv${missing} address`)), udp.warnings.join('\n'))
  })

  ns(`S5 (IP${only}-only host): listening on an IPv${missing} address is a ListenError`, async (t) => {
    const v = await value(t, only, 'other-family-literal')
    assert.equal(v.code, 'E_LISTEN', JSON.stringify(v))
    assert.match(v.message, /EADDRNOTAVAIL|address not available|cannot listen/i)
  })

  ns(`F5 (IP${only}-only host): a client to a name with both records races normally and connects over IPv${only === 'v4' ? 4 : 6}`, async (t) => {
    const v = await value(t, only, 'client-dual-name')
    assert.match(v.line, only === 'v4' ? /connected to 127\.0\.0\.1:/ : /connected to \[::1\]:/)
  })
}
