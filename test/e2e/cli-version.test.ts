import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import process from 'node:process'
import { test } from '../harness.ts'
import { CLI, ROOT, run } from '../helpers/processes.ts'
import { VERSION } from '../../src/cli/help.ts'

const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8'))
const denoJson = JSON.parse(readFileSync(`${ROOT}deno.json`, 'utf8'))

test('the CLI, package.json and deno.json carry the same version', () => {
  assert.equal(VERSION, pkg.version)
  assert.equal(denoJson.version, pkg.version)
})

test('--version, -v, -V, -version and `version` print the version, the runtime and its version', async (t) => {
  const versions = process.versions as Record<string, string | undefined>
  const expected = `edgerelay ${pkg.version} (${t.runtime} ${versions[t.runtime]})\n`
  for (const form of [['--version'], ['-v'], ['-V'], ['-version'], ['version'], ['--in', 'udp/listen:127.0.0.1:0', '-v']]) {
    const r = await run([...CLI[t.runtime], ...form])
    assert.equal(r.code, 0, `${form.join(' ')}: ${r.stderr}`)
    assert.equal(r.stdout, expected, form.join(' '))
  }
}, { timeout: 60_000 })

test('-h, --help and `help` print the usage, which names every form of version and help', async (t) => {
  for (const form of ['-h', '--help', 'help']) {
    const r = await run([...CLI[t.runtime], form])
    assert.equal(r.code, 0, `${form}: ${r.stderr}`)
    assert.match(r.stdout, new RegExp(`^edgerelay ${pkg.version.replaceAll('.', '\\.')}: `), form)
    assert.match(r.stdout, /^ {2}edgerelay version \| -v \| -V \| --version /m, form)
    assert.match(r.stdout, /^ {2}edgerelay help \| -h \| --help$/m, form)
  }
}, { timeout: 60_000 })

test('an unknown one-letter option is refused with exit code 2, not taken for another', async (t) => {
  const r = await run([...CLI[t.runtime], '-x'])
  assert.equal(r.code, 2, r.stderr)
  assert.match(r.stderr, /unknown option --x/)
})
