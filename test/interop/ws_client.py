"""
An independent edgerelay WebSocket client: Debian's python3-websockets and python3-protobuf,
written from the published schema (codecs/schema/edgerelay.proto) and docs/wire-protocol.md only:

  - subprotocol edgerelay.v1.protobuf, token in Authorization: Bearer;
  - each binary message carries one or more frames, each `u32 length (big-endian) | Frame`;
  - a REQUEST frame gets REPLY frames with the same flow and id.

Usage: ws_client.py <generated-module-dir> <url> <token|-> <dns-name>
Prints one JSON line: {"status": "ok", "flow", "id", "kind", "answers": [...]} or {"status": "refused", "http": code}.
"""
import asyncio
import json
import struct
import sys

sys.path.insert(0, sys.argv[1])
import edgerelay_pb2  # noqa: E402  (generated at test time by protoc)
import websockets  # noqa: E402

import dnsmsg  # noqa: E402


def frames_in(message):
    off = 0
    while off < len(message):
        (length,) = struct.unpack('>I', message[off:off + 4])
        frame = edgerelay_pb2.Frame()
        frame.ParseFromString(message[off + 4:off + 4 + length])
        yield frame
        off += 4 + length


async def main():
    url, token, name = sys.argv[2], sys.argv[3], sys.argv[4]
    headers = {} if token == '-' else {'Authorization': 'Bearer ' + token}
    try:
        ws = await websockets.connect(url, subprotocols=['edgerelay.v1.protobuf'], extra_headers=headers)
    except websockets.exceptions.InvalidStatusCode as err:
        print(json.dumps({'status': 'refused', 'http': err.status_code}))
        return
    try:
        assert ws.subprotocol == 'edgerelay.v1.protobuf', ws.subprotocol
        request = edgerelay_pb2.Frame(flow=42, id=7, kind=edgerelay_pb2.REQUEST, payload=dnsmsg.query(name, 0x1234))
        body = request.SerializeToString()
        await ws.send(struct.pack('>I', len(body)) + body)
        while True:
            message = await asyncio.wait_for(ws.recv(), 10)
            for frame in frames_in(message):
                if frame.kind == edgerelay_pb2.PING:
                    continue
                print(json.dumps({'status': 'ok', 'flow': frame.flow, 'id': frame.id,
                                  'kind': edgerelay_pb2.Kind.Name(frame.kind),
                                  'answers': dnsmsg.answers(frame.payload)}))
                return
    finally:
        await ws.close()


asyncio.run(main())
