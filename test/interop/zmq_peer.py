"""
An independent ZeroMQ peer for zmq/server and zmq/client: Debian's python3-zmq (libzmq) and
python3-protobuf, written from the published schema (codecs/schema/edgerelay.proto) and the
header of src/connectors/zmq.ts only:

  - zmq/server is a ROUTER (connect a DEALER), zmq/client a DEALER (bind a ROUTER);
  - each single-part message carries one frame, `u32 length (big-endian) | Frame`;
  - the codec and token travel as READY metadata X-Edgerelay-Codec / X-Edgerelay-Token.

Usage:
  zmq_peer.py <generated-module-dir> dealer <endpoint> <token|-> <dns-name>
      one REQUEST through a zmq/server; prints {"status": "ok", "flow", "id", "kind", "answers"}
      or {"status": "silent"} when nothing came back within 3 s.
  zmq_peer.py <generated-module-dir> router <dns-port> <seconds>
      binds a ROUTER on 127.0.0.1 (prints {"endpoint": ...}), answers each REQUEST by asking the
      dnsmasq on <dns-port>, answers PING with PONG; exits after <seconds>.
"""
import json
import socket
import struct
import sys
import time

sys.path.insert(0, sys.argv[1])
import edgerelay_pb2  # noqa: E402  (generated at test time by protoc)
import zmq  # noqa: E402

import dnsmsg  # noqa: E402


def encode(frame):
    body = frame.SerializeToString()
    return struct.pack('>I', len(body)) + body


def decode(message):
    (length,) = struct.unpack('>I', message[:4])
    frame = edgerelay_pb2.Frame()
    frame.ParseFromString(message[4:4 + length])
    return frame


def dealer(endpoint, token, name):
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    meta = 'X-Edgerelay-Codec:protobuf'
    sock.setsockopt(zmq.METADATA, meta.encode())
    if token != '-':
        # One METADATA option per property.
        sock.setsockopt(zmq.METADATA, ('X-Edgerelay-Token:' + token).encode())
    sock.connect(endpoint)
    request = edgerelay_pb2.Frame(flow=42, id=7, kind=edgerelay_pb2.REQUEST, payload=dnsmsg.query(name, 0x1234))
    sock.send(encode(request))
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        if not sock.poll(int(max(0, deadline - time.monotonic()) * 1000)):
            break
        frame = decode(sock.recv())
        if frame.kind == edgerelay_pb2.PING:
            continue
        print(json.dumps({'status': 'ok', 'flow': frame.flow, 'id': frame.id,
                          'kind': edgerelay_pb2.Kind.Name(frame.kind), 'answers': dnsmsg.answers(frame.payload)}))
        sock.close()
        return
    print(json.dumps({'status': 'silent'}))
    sock.close()


def router(dns_port, seconds):
    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    port = sock.bind_to_random_port('tcp://127.0.0.1')
    print(json.dumps({'endpoint': 'tcp://127.0.0.1:%d' % port}), flush=True)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.settimeout(2)
    deadline = time.monotonic() + seconds
    served = 0
    while time.monotonic() < deadline:
        if not sock.poll(200):
            continue
        identity, message = sock.recv_multipart()
        frame = decode(message)
        if frame.kind == edgerelay_pb2.PING:
            sock.send_multipart([identity, encode(edgerelay_pb2.Frame(flow=0, id=frame.id, kind=edgerelay_pb2.PONG))])
            continue
        if frame.kind != edgerelay_pb2.REQUEST:
            continue
        udp.sendto(frame.payload, ('127.0.0.1', dns_port))
        answer, _ = udp.recvfrom(65535)
        reply = edgerelay_pb2.Frame(flow=frame.flow, id=frame.id, kind=edgerelay_pb2.REPLY, payload=answer)
        sock.send_multipart([identity, encode(reply)])
        served += 1
        print(json.dumps({'served': served}), flush=True)


if sys.argv[2] == 'dealer':
    dealer(sys.argv[3], sys.argv[4], sys.argv[5])
else:
    router(int(sys.argv[3]), float(sys.argv[4]))
