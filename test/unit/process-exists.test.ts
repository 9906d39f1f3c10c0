import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { processExists } from '../../src/cli/host.ts'
import { test, waitFor } from '../harness.ts'

test('processExists: this process runs, a finished one does not, and a zombie (exited, not reaped) counts as gone', async (t) => {
  assert.equal(processExists(process.pid), true)
  // sh starts a short sleep in the background and execs a long one, which never reaps it: the
  // short one becomes a zombie (state Z) while the long one lives.
  const parent = spawn('sh', ['-c', 'sleep 0.05 & echo $!; exec sleep 5'], { stdio: ['ignore', 'pipe', 'ignore'] })
  t.defer(() => parent.kill('SIGKILL'))
  let out = ''
  parent.stdout!.on('data', (d) => (out += d))
  const child = Number(await waitFor(() => /^\d+\n/.test(out) && out.trim(), 'the background PID'))
  await waitFor(() => !processExists(child), 'the exited child to count as gone', 3000)
  assert.equal(processExists(parent.pid!), true, 'its parent still runs')
  assert.equal(processExists(2 ** 22 + 12345), false, 'a PID above pid_max does not exist')
})
