/**
 * Runs the test files given on the command line in this runtime and prints one line per test plus
 * a machine-readable summary line (`##SUMMARY {...}`) that test/run.mjs aggregates.
 */
import process from 'node:process'
import { pathToFileURL } from 'node:url'
import { resolve } from 'node:path'
import { currentRuntime, registered, setCurrentFile, SkipTest, type TestContext } from './harness.ts'

const runtime = currentRuntime()
const files = process.argv.slice(2).filter((a) => a.endsWith('.ts'))
const filter = process.env.TEST_FILTER ?? ''

let passed = 0
let failed = 0
let skipped = 0
/** Skipped for something this machine lacks (a failure under CI=true). */
let unavailable = 0
const failures: string[] = []

for (const file of files) {
  setCurrentFile(file)
  try {
    await import(pathToFileURL(resolve(file)).href)
  } catch (err) {
    failed++
    const msg = `${file}: failed to load: ${(err as Error)?.stack ?? err}`
    failures.push(msg)
    console.log(`not ok - ${msg}`)
  }
}

for (const t of registered) {
  const label = `${t.file.replace(/^.*test\//, '')} › ${t.name}`
  if (filter && !label.includes(filter)) continue
  if (t.options.skip || t.options.unavailable) {
    skipped++
    if (!t.options.skip) unavailable++
    console.log(`skip - ${label} (${t.options.skip || t.options.unavailable})`)
    continue
  }
  const controller = new AbortController()
  const cleanups: (() => unknown)[] = []
  const ctx: TestContext = { signal: controller.signal, defer: (fn) => cleanups.push(fn), runtime }
  const timeout = t.options.timeout ?? 20_000
  const started = Date.now()
  let timer: ReturnType<typeof setTimeout> | undefined
  let error: unknown
  try {
    await Promise.race([
      Promise.resolve().then(() => t.fn(ctx)),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${timeout} ms`)), timeout)
      }),
    ])
  } catch (err) {
    error = err
  } finally {
    clearTimeout(timer)
    controller.abort()
    for (const fn of cleanups.reverse()) {
      // A cleanup that hangs is a failure of its own and must not stall the whole run.
      let cleanupTimer: ReturnType<typeof setTimeout> | undefined
      try {
        await Promise.race([
          Promise.resolve().then(fn),
          new Promise((_, reject) => {
            cleanupTimer = setTimeout(() => reject(new Error('cleanup did not finish within 5 s')), 5000)
          }),
        ])
      } catch (err) {
        error ??= err
      } finally {
        clearTimeout(cleanupTimer)
      }
    }
  }
  const ms = Date.now() - started
  if (error instanceof SkipTest) {
    skipped++
    unavailable++
    console.log(`skip - ${label} (${error.message})`)
  } else if (error === undefined) {
    passed++
    console.log(`ok - ${label} (${ms} ms)`)
  } else {
    failed++
    const detail = (error as Error)?.stack ?? String(error)
    failures.push(`${label}\n    ${detail.replaceAll('\n', '\n    ')}`)
    console.log(`not ok - ${label} (${ms} ms)\n    ${detail.replaceAll('\n', '\n    ')}`)
  }
}

console.log(`##SUMMARY ${JSON.stringify({ runtime, passed, failed, skipped, unavailable, failures })}`)
// Lingering handles from a failed test must not keep the runner alive.
process.exit(failed > 0 ? 1 : 0)
