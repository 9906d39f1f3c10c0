import process from 'node:process'

/** The package version (test/unit/version.test.ts keeps it equal to package.json's and deno.json's). */
export const VERSION = '0.1.0'

/** The runtime running this process and its version (`node`, `20.20.2`). */
export function runtimeInfo(): { name: string; version: string } {
  const v = process.versions as Record<string, string | undefined>
  const [name, version] = v.bun ? ['bun', v.bun] : v.deno ? ['deno', v.deno] : ['node', v.node]
  return { name, version: version ?? 'unknown' }
}

/** `edgerelay 0.1.0 (node 20.20.2)`: what --version prints, with the runtime running it. */
export function versionLine(): string {
  const { name, version } = runtimeInfo()
  return `edgerelay ${VERSION} (${name} ${version})`
}

export const HELP = `edgerelay ${VERSION}: UDP request/reply, events and TCP streams through a tunnel, on Node, Bun and Deno

Usage:
  edgerelay [run] --in <connector> --out <connector> [options]
  edgerelay [run] --config <file.toml>[#section | ::section] [options]   (#section: /etc/uhppoted/uhppoted-tunnel.toml)
  edgerelay daemonize --label <name> (--config <file>#<section> | --in ... --out ...) [--user user:group] [--dry-run] [--unit-dir dir]
  edgerelay undaemonize --label <name> [--dry-run] [--unit-dir dir]
  edgerelay version | -v | -V | --version      the version and the runtime running it
  edgerelay help | -h | --help
  edgerelay reload --metrics <host:port>      make a running process re-read its --config file (or send it SIGHUP)

Connectors (uhppoted-tunnel syntax):
  udp/listen:<host>:<port>      in    UDP requests from local clients
  udp/broadcast:<host>:<port>   out   UDP requests to a device (unicast or broadcast)
  udp/client:<host>:<port>      out   UDP requests over a connected socket, addresses tried until one answers
  udp/event:<host>:<port>       in/out one-way datagrams
  udp/p2p:<local>,peer=<host>:<port>  in/out UDP with one fixed peer (both ends bound), the peer's families only
  tcp/server:<host>:<port>      in/out tunnel, accepting the other half
  tcp/client:<host>:<port>      in/out tunnel, dialling the other half
  tcp/server|client:...,starttls  in/out the tcp tunnel upgraded to TLS after the hello (TLS options as tls/)
  tls/server:<host>:<port>      in/out TLS tunnel, accepting (needs --cert and --key)
  tls/client:<host>:<port>[,sni=<name>]  in/out TLS tunnel, dialling; checks the server's certificate and name
  ws/server:<host>:<port>[/path]  in/out WebSocket tunnel, accepting (wss with --cert/--key); GET /healthz
  ws/client:ws://<host>:<port>/path | wss://...  in/out WebSocket tunnel, dialling
  grpc/server:<host>:<port>     in/out gRPC tunnel (edgerelay.v1.Tunnel/Relay), h2c or TLS with --cert/--key
  grpc/client:<host>:<port>[,tls]  in/out gRPC tunnel, dialling
  zmq/server:<host>:<port>      in/out ZeroMQ tunnel, ROUTER binding (ZMTP 3.1, NULL)
  zmq/client:<host>:<port>      in/out ZeroMQ tunnel, DEALER connecting
  xmpp/client:<jid>,to=<jid> | ,from=<jid>  in/out XMPP tunnel through a server (,server=<host>:<port>; direct TLS)
  http/<host>:<port>, https/<host>:<port>  in  uhppoted-tunnel's JSON API (POST /udp/broadcast, /udp/send)
  ip/out:<host>:<port>          out   UHPPOTE requests to controllers by serial ([section.controllers]), the rest broadcast
  tcp/listen:<host>:<port>[,to=<host>:<port>]  in  TCP forwarding: each connection becomes a stream
  tcp/connect:<host>:<port>     out   every stream dials this destination
  tcp/dial                      out   every stream dials the destination its opener names (needs --allow)
  socks5/listen:<host>:<port>   in    SOCKS5 server (CONNECT, UDP ASSOCIATE); far half: --out tcp/dial
  http-proxy/listen:<host>:<port>  in  HTTP CONNECT proxy; far half: --out tcp/dial
    proxies on non-loopback addresses need --proxy-users, or ,noauth
  Tunnel clients: ,connections=N keeps N connections (streams spread over them)
  Hosts: 127.0.0.1, [::1], [fe80::1%eth0], names, * (every family).
  Address options: ::eth0: prefix or ,iface=eth0  ,bind=<addr>  ,sourceport=<port>  ,attempt-delay=<ms>
    ,ipv6only=0  udp/listen: ,wildcard ,rescan=30s  multicast group hosts: ,ttl=1 ,loopback ,source=<addr>

Options:
  --in, --out             each may be given more than once: one half on several listeners; several --out need --route
  --route <rule>          which --out takes what: in=<n|kind>,out=<n|kind>  serial=<controller>,out=..  out=.. (the rest)
  --codec protobuf|avro|msgpack|uhppoted   wire encoding (default protobuf, or uhppoted from a TOML file naming none; uhppoted = uhppoted-tunnel framing)
  --udp-timeout 5s        how long a request waits for replies (durations need a unit: 5s, 500ms)
  --flow-idle 60s         idle time that ends a UDP flow
  --max-retries -1        reconnect attempts (-1 = forever)
  --max-retry-delay 5m    longest wait between reconnects
  --token <secret>        shared secret checked in the tunnel hello (ws, grpc: Authorization: Bearer);
                          visible in ps: prefer --token-file <file> (its first line) or EDGERELAY_TOKEN
  --ca-cert <file>        tls/client: CA of the server certificate (default: system CAs); with --client-auth: CA of client certificates
  --cert <file>, --key <file>  tls/server: its certificate and key; tls/client: a client certificate
  --client-auth           tls/server: require a client certificate signed by --ca-cert
  --connect-timeout 10s   limit for one TCP connect attempt
  --hello-timeout 10s     limit for the TLS handshake and the tunnel hello, on both sides
  --heartbeat 8s          ping a quiet tunnel this often; a peer silent for 3x this is dropped
  --idle-timeout 5m       close a tunnel without heartbeats (uhppoted framing) that sends nothing this long
  --max-connections, --max-connections-per-peer, --max-pending, --max-flows, --max-udp-sockets,
  --max-grpc-calls, --max-tcp-streams, --max-http-requests, --max-buffered   the half's global limits (default: from ulimit -n)
  --queue-packets 1024, --queue-bytes 4194304   what waits while no tunnel is up (the rest is dropped, counted)
  --ipv4 | --ipv6         resolve and listen on one family only
  --xmpp-password-file <file>  xmpp/client: the account password (or EDGERELAY_XMPP_PASSWORD)
  --allow <entries>       tcp/dial: destinations the other half may reach (10.0.0.0/8:22,db.internal:5432,*.corp.example:443; '*' = all)
  --max-streams 1024      TCP streams per tunnel connection; more are refused
  --proxy <url>           tunnel clients reach their server through http://[user:pass@]host:port (CONNECT), socks5:// or socks5h://;
                          default: ALL_PROXY, HTTPS_PROXY, ... as curl reads them; '' = none. Password visible in ps: prefer
                          --proxy-user-file <file> (user:password) or EDGERELAY_PROXY_USER
  --noproxy <hosts>       servers reached directly (replaces NO_PROXY): names and their subdomains, addresses, CIDR blocks; '*' = all
  --proxy-users <file>    socks5/listen, http-proxy/listen: the user:password lines their clients must give
  --resolver system       name resolution: system (getaddrinfo), <addr>:<port> (that DNS server), hosts:<file>
  --log-level info        debug, info, warn or error (--quiet = warn)
  --debug                 debug level and a hex dump of every packet, with flow and direction
  --log-format text       text, or json: one object per line (time, level, connector, code, peer, message)
  --metrics <host:port>   serve Prometheus metrics at /metrics and readiness at /healthz (e.g. 127.0.0.1:9464)
  --html <folder>         http/https: static files to serve (uhppoted-tunnel's browser pages)
  --rate-limit <n/s>, --rate-limit-burst <n>   token bucket between in and out (default: none)
  --lockfile <file>, --remove-lockfile   refuse a second copy of the same half (default $TMPDIR/uhppoted-tunnel-<hash>.pid)
  --workdir <dir>         folder for the default lockfile (created if missing)
  --pid <file>            write the PID there while running
  --logfile <file>        log to this file unless --console (--service: the file even with --console)

Exit codes: 2 configuration, 3 address family, 4 name resolution, 5 listen, 6 connect.
`
