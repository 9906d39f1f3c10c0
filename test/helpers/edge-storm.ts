import assert from 'node:assert/strict'
import { waitFor } from '../harness.ts'
import { wrongTokenUpgrades } from '../attack/lib.ts'
import type { LoggedHalf } from './halves.ts'

const REFUSAL = /refused WebSocket upgrade from .*: wrong token/g

/**
 * Issue 13 at an edge entry (workerd, deno serve): `n` upgrades with a wrong token are refused
 * before anything is created for them. The far half behind the edge gets no connection from them
 * (nothing is dialled before the token check), the edge logs a bounded number of refusals (its
 * WarningLimiter), and `served()` (a request through the edge, the positive control) still works.
 */
export async function wrongTokenStorm(edgePort: number, far: LoggedHalf, edgeOutput: () => string, served: () => Promise<void>, n = 200): Promise<void> {
  const accepted = far.stats.get('tunnel.accepted')
  const farLines = far.lines.length
  const refusals = () => edgeOutput().match(REFUSAL)?.length ?? 0
  const before = refusals()
  const statuses = await wrongTokenUpgrades(edgePort, '/tunnel', n)
  assert.deepEqual(statuses, { 401: n }, 'every upgrade refused with 401')
  await served()
  await waitFor(() => refusals() > before, 'the edge to log a refusal')
  assert.equal(far.stats.get('tunnel.accepted'), accepted, 'the far half got no connection for a refused upgrade')
  assert.deepEqual(far.lines.slice(farLines).filter((l) => /WARN|ERROR/.test(l)), [], 'and logged nothing about them')
  const logged = refusals() - before
  assert.ok(logged <= 10, `${logged} refusal lines at the edge for ${n} refused upgrades`)
}
