import assert from 'node:assert/strict'
import { test, waitFor } from '../harness.ts'

test('waitFor returns the first truthy value and gives up with a message', async () => {
  let n = 0
  assert.equal(await waitFor(() => ++n >= 3 && n, 'n to reach 3', 1000, 1), 3)
  await assert.rejects(waitFor(() => false, 'never', 30, 5), /never/)
})
