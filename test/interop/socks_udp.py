"""SOCKS5 UDP ASSOCIATE with Debian's python3-socks (PySocks), as an application would use it.

Usage: socks_udp.py <proxy port> <user|-> <password|-> [!]<host:port> [[!]<host:port> ...]

Sends three datagrams to each destination through one association (one UDP socket), in the order
given, and collects replies until one has come for each datagram sent to a destination not marked
with '!' (no answer expected), or 8 s have passed. With HOLD_FILE set in the environment it then
keeps the association (its TCP connection) open until that file exists, at most 8 s more, so the
test decides when it ends rather than racing the datagrams still on their way. Prints one JSON line:
{"replies": [[text, host, port], ...], "error": null | "..."}.
"""
import os
import json
import socket
import sys
import time

import socks

port = int(sys.argv[1])
user = None if sys.argv[2] == '-' else sys.argv[2]
password = None if sys.argv[3] == '-' else sys.argv[3]
destinations = []
for d in sys.argv[4:]:
    host, _, p = d.lstrip('!').rpartition(':')
    destinations.append((host.strip('[]'), int(p), not d.startswith('!')))

s = socks.socksocket(socket.AF_INET, socket.SOCK_DGRAM)
s.set_proxy(socks.SOCKS5, '127.0.0.1', port, username=user, password=password)
s.settimeout(1)
replies = []
error = None
expected = 0
try:
    for host, p, answers in destinations:
        for i in range(3):
            s.sendto(f'{host}:{p}#{i}'.encode(), (host, p))
        if answers:
            expected += 3
    deadline = time.time() + 8
    while len(replies) < expected and time.time() < deadline:
        try:
            data, (host, p) = s.recvfrom(65535)
        except socket.timeout:
            continue
        replies.append([data.decode(), host.decode() if isinstance(host, bytes) else host, p])
    hold = os.environ.get('HOLD_FILE')
    until = time.time() + 8
    while hold and not os.path.exists(hold) and time.time() < until:
        time.sleep(0.02)
except Exception as e:  # the proxy refused, a timeout in the handshake, ...
    error = f'{type(e).__name__}: {e}'
print(json.dumps({'replies': replies, 'error': error}))
