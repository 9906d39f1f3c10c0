"""
A stock gRPC client for edgerelay: the stub is generated from codecs/schema/edgerelay.proto by
Debian's protoc + grpc_python_plugin (python3-grpcio, python3-protobuf); nothing else is known
about edgerelay. It opens Tunnel.Relay, sends one REQUEST frame carrying a DNS query, half-closes,
and reads reply frames until the server ends the call.

Usage: grpc_client.py <generated-module-dir> <host:port> <token|-> <dns-name> [ca.pem]
Prints one JSON line: {"status": "ok", "code": "OK", "replies": [...]} or {"status": "error", "code", "details"}.
"""
import json
import sys

sys.path.insert(0, sys.argv[1])
import grpc  # noqa: E402
import edgerelay_pb2  # noqa: E402  (generated at test time)
import edgerelay_pb2_grpc  # noqa: E402

import dnsmsg  # noqa: E402


def main():
    target, token, name = sys.argv[2], sys.argv[3], sys.argv[4]
    options = [('grpc.enable_http_proxy', 0)]
    if len(sys.argv) > 5:
        with open(sys.argv[5], 'rb') as f:
            creds = grpc.ssl_channel_credentials(root_certificates=f.read())
        channel = grpc.secure_channel(target, creds, options=options)
    else:
        channel = grpc.insecure_channel(target, options=options)
    stub = edgerelay_pb2_grpc.TunnelStub(channel)
    metadata = [] if token == '-' else [('authorization', 'Bearer ' + token)]
    request = edgerelay_pb2.Frame(flow=42, id=7, kind=edgerelay_pb2.REQUEST, payload=dnsmsg.query(name, 0x4242))
    call = stub.Relay(iter([request]), metadata=metadata, timeout=15)
    replies = []
    try:
        for frame in call:
            if frame.kind == edgerelay_pb2.PING:
                continue
            replies.append({'flow': frame.flow, 'id': frame.id, 'kind': edgerelay_pb2.Kind.Name(frame.kind),
                            'answers': dnsmsg.answers(frame.payload)})
    except grpc.RpcError as err:
        print(json.dumps({'status': 'error', 'code': err.code().name, 'details': err.details()}))
        return
    print(json.dumps({'status': 'ok', 'code': call.code().name, 'replies': replies}))


main()
