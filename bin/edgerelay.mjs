#!/usr/bin/env node
// npm's `edgerelay` command on Node: TypeScript sources run through tsx's loader.
// Bun and Deno run src/cli/main.ts directly (see README).
import { register } from 'tsx/esm/api'

register()
await import('../src/cli/main.ts')
