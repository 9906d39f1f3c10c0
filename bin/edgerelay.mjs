#!/usr/bin/env node
// npm's `edgerelay` command: the compiled CLI in lib/ (`npm run build`; the npm package ships it),
// bundled into lib/cli/ (tools/build.mjs says why), run by plain Node with no loader. From a
// checkout without lib/, run the TypeScript sources instead (README, "Running from a checkout").
try {
  await import('../lib/cli/main.js')
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes('lib/cli/main.js')) throw err
  process.stderr.write('edgerelay: lib/ has not been built: run `npm run build` first (npm pack and npm publish do it)\n')
  process.exit(1)
}
