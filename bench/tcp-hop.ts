/**
 * The plain one-hop TCP relay bench/streams.mjs compares edgerelay's two halves with: every
 * accepted connection is piped to one destination with node:net's pipe(), on whichever runtime
 * runs this file (node, bun or deno). No tunnel, no framing: what one process of that runtime costs.
 *
 *   <runtime> bench/tcp-hop.ts --listen <port> --to <port>
 */
import net from 'node:net'
import process from 'node:process'

const at = (name: string) => Number(process.argv[process.argv.indexOf(`--${name}`) + 1])
const server = net.createServer({ noDelay: true }, (client) => {
  const upstream = net.connect({ port: at('to'), host: '127.0.0.1', noDelay: true })
  client.pipe(upstream)
  upstream.pipe(client)
  const done = () => {
    client.destroy()
    upstream.destroy()
  }
  client.on('error', done)
  upstream.on('error', done)
  client.on('close', done)
  upstream.on('close', done)
})
server.listen(at('listen'), '127.0.0.1', () => console.log(`tcp-hop listening on ${at('listen')}`))
