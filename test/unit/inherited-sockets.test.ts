import assert from 'node:assert/strict'
import { test } from '../harness.ts'
import { parseProcNet } from '../../src/cli/socket-activation.ts'
import { canonicalAddress, InheritedSockets } from '../../src/net/inherited-sockets.ts'

test('/proc/net lines give each socket\'s inode, address and port (IPv4 and IPv6 word order)', () => {
  const tcp = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 00000000:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 100 0 0 10 0
`
  assert.deepEqual(parseProcNet(tcp), [{ inode: 4242, address: '127.0.0.1', port: 8080 }, { inode: 4343, address: '0.0.0.0', port: 53 }])
  const tcp6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:3039 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000000000000:3039 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 78 1 0000000000000000 100 0 0 10 0
   2: 000080FE00000000FF0D0B0201FE2FA5:3039 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 79 1 0000000000000000 100 0 0 10 0
`
  assert.deepEqual(parseProcNet(tcp6).map((s) => `${s.inode} ${s.address} ${s.port}`), ['77 ::1 12345', '78 :: 12345', '79 fe80::20b:dff:a52f:fe01 12345'])
  assert.deepEqual(parseProcNet(''), [])
})

test('an inherited socket goes to the first listener of its transport, address (any spelling) and port, once', () => {
  const pool = new InheritedSockets([
    { fd: 3, transport: 'tcp', address: '::1', port: 80 },
    { fd: 4, transport: 'udp', address: '::1', port: 80 },
    { fd: 5, transport: 'tcp', address: '127.0.0.1', port: 80 },
  ])
  assert.equal(canonicalAddress('0:0:0:0:0:0:0:1%lo'), '::1')
  assert.equal(pool.claim('tcp', '127.0.0.1', 81), undefined)
  assert.equal(pool.claim('udp', '0:0::1', 80)?.fd, 4)
  assert.equal(pool.claim('udp', '::1', 80), undefined)
  assert.equal(pool.claim('tcp', '::0001', 80)?.fd, 3)
  assert.deepEqual(pool.unclaimed().map((s) => s.fd), [5])
})
