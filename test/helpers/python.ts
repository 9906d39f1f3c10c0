import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import process from 'node:process'
import { needPeers } from './peers.ts'
import { ROOT, run } from './processes.ts'

/** Debian's python modules load only in the system interpreter (not a pyenv python3 on PATH). */
export const PYTHON = '/usr/bin/python3'

let generated: string | undefined

/**
 * Python modules generated from the published schema with Debian's protoc and grpc_python_plugin
 * (edgerelay_pb2.py, edgerelay_pb2_grpc.py), once per test process, in a temporary folder.
 */
export function pythonStubs(): string {
  needPeers('protoc', 'grpc_python_plugin', 'py:google.protobuf')
  if (generated) return generated
  const dir = mkdtempSync(join(tmpdir(), 'edgerelay-py-'))
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
  execFileSync('protoc', [`-I${ROOT}codecs/schema`, `--python_out=${dir}`, `--grpc_out=${dir}`, '--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin', `${ROOT}codecs/schema/edgerelay.proto`], { stdio: ['ignore', 'ignore', 'pipe'] })
  generated = dir
  return dir
}

/** The Debian python modules each of test/interop/*.py imports (besides the generated stubs). */
export const INTEROP_MODULES: Record<string, string[]> = { 'grpc_client.py': ['py:grpc'], 'grpc_stream.py': ['py:grpc'], 'ws_client.py': ['py:websockets'], 'zmq_peer.py': ['py:zmq'] }

/** Runs one of test/interop/*.py and returns its last stdout line parsed as JSON. */
export async function runInterop(script: string, args: string[], timeoutMs = 20_000): Promise<Record<string, unknown>> {
  needPeers(...(INTEROP_MODULES[script] ?? []))
  const r = await run([PYTHON, `${ROOT}test/interop/${script}`, pythonStubs(), ...args], timeoutMs)
  const last = r.stdout.trim().split('\n').pop() ?? ''
  try {
    return JSON.parse(last) as Record<string, unknown>
  } catch {
    throw new Error(`${script} exited with ${r.code} and no JSON result\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
  }
}
