export const VERSION = '0.1.0'

export const HELP = `edgerelay ${VERSION}: UDP request/reply and events through a tunnel, on Node, Bun and Deno

Usage:
  edgerelay [run] --in <connector> --out <connector> [options]
  edgerelay [run] --config <file.toml>[#section] [options]
  edgerelay version | help

Connectors (uhppoted-tunnel syntax):
  udp/listen:<host>:<port>      in    UDP requests from local clients
  udp/broadcast:<host>:<port>   out   UDP requests to a device (unicast or broadcast)
  udp/event:<host>:<port>       in/out one-way datagrams
  tcp/server:<host>:<port>      in/out tunnel, accepting the other half
  tcp/client:<host>:<port>      in/out tunnel, dialling the other half
  Hosts: 127.0.0.1, [::1], [fe80::1%eth0], names, * (every family).

Options:
  --codec protobuf|avro|msgpack|uhppoted   wire encoding (default protobuf; uhppoted = uhppoted-tunnel framing)
  --udp-timeout 5s        how long a request waits for replies
  --flow-idle 60s         idle time that ends a UDP flow
  --max-retries -1        reconnect attempts (-1 = forever)
  --max-retry-delay 5m    longest wait between reconnects
  --token <secret>        shared secret checked in the tunnel hello
  --ipv4 | --ipv6         resolve and listen on one family only
  --log-level info        debug, info, warn or error (--debug = debug)
  --console               accepted for uhppoted-tunnel compatibility

Exit codes: 2 configuration, 3 address family, 4 name resolution, 5 listen, 6 connect.
`
