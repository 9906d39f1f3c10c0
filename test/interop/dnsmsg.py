"""Minimal DNS message helpers for the interop clients (standard library only)."""
import struct


def query(name, qid):
    """An A query for `name` with recursion desired."""
    header = struct.pack('>HHHHHH', qid, 0x0100, 1, 0, 0, 0)
    labels = b''.join(bytes([len(p)]) + p.encode('ascii') for p in name.split('.'))
    return header + labels + b'\x00' + struct.pack('>HH', 1, 1)


def _skip_name(msg, off):
    while True:
        n = msg[off]
        if n == 0:
            return off + 1
        if n & 0xC0 == 0xC0:
            return off + 2
        off += 1 + n


def answers(msg):
    """The IPv4 addresses in the answer section."""
    qid, flags, qd, an, _ns, _ar = struct.unpack('>HHHHHH', msg[:12])
    off = 12
    for _ in range(qd):
        off = _skip_name(msg, off) + 4
    out = []
    for _ in range(an):
        off = _skip_name(msg, off)
        rtype, _cls, _ttl, rdlen = struct.unpack('>HHIH', msg[off:off + 10])
        off += 10
        if rtype == 1 and rdlen == 4:
            out.append('.'.join(str(b) for b in msg[off:off + 4]))
        off += rdlen
    return out
