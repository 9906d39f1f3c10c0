import process from 'node:process'
import { SkipTest } from '../harness.ts'

/**
 * The programs from tools/peers.txt that test/run.mjs found missing, as [check, Debian package]
 * pairs (it passes them in EDGERELAY_MISSING_PEERS). Run without test/run.mjs, nothing counts as
 * missing and a test that needs an absent program fails on it.
 */
const missing: [string, string][] = JSON.parse(process.env.EDGERELAY_MISSING_PEERS ?? '[]')

/** Why a test needing `checks` (names from tools/peers.txt) cannot run here, or false. */
export function missingPeers(...checks: string[]): string | false {
  const absent = missing.filter(([check]) => checks.includes(check))
  return absent.length ? `needs ${absent.map(([check, pkg]) => `${check} (Debian ${pkg})`).join(', ')}: npm run setup installs it` : false
}

/** Ends the running test as skipped when one of `checks` is missing. */
export function needPeers(...checks: string[]): void {
  const reason = missingPeers(...checks)
  if (reason) throw new SkipTest(reason)
}
