/**
 * Halves' counters, gauges and round-trip histogram in the Prometheus text exposition format
 * (version 0.0.4), written here rather than with prom-client: it is a few lines of formatting, the
 * counters already live in Stats, and it runs the same on Node, Bun, Deno and edge runtimes.
 * Every series carries the half (`<in> -> <out>`), the side (`in`, `out`) and that side's
 * connector (`udp/listen`); names follow Prometheus conventions (`_total`, `_bytes`, `_seconds`).
 * README's Metrics section lists them.
 */
import type { Histogram } from '../base/histogram.ts'
import type { Stats } from '../base/stats.ts'
import type { Half } from './start-half.ts'

type Labels = Record<string, string>
type MetricType = 'counter' | 'gauge' | 'histogram'

interface Family {
  type: MetricType
  help: string
  lines: string[]
}

/** Where a Stats name goes: the metric, its extra labels, and what it means. */
interface Mapped {
  name: string
  labels: Labels
  help: string
}

const DIRECTION: Record<string, string> = { sent: 'out', received: 'in' }

/** Counter names with a label in them; the rest map one to one (`tunnel.accepted` → `edgerelay_tunnel_accepted_total`). */
const COUNTER_RULES: [RegExp, (m: RegExpExecArray) => Mapped][] = [
  [/^dropped\.(.+)$/, (m) => ({ name: 'edgerelay_dropped_total', labels: { reason: m[1]! }, help: 'Packets and frames dropped, by reason (each also logged, at most once a second per reason).' })],
  [/^tunnel\.(sent|received)\.(\w+)$/, (m) => ({ name: 'edgerelay_tunnel_frames_total', labels: { direction: DIRECTION[m[1]!]!, kind: m[2]! }, help: 'Frames through the tunnel, by direction and kind (request, reply, event).' })],
  [/^tunnel\.(sent|received)_bytes\.(\w+)$/, (m) => ({ name: 'edgerelay_tunnel_payload_bytes_total', labels: { direction: DIRECTION[m[1]!]!, kind: m[2]! }, help: 'Payload bytes (the UDP datagrams carried) through the tunnel, by direction and kind.' })],
  [/^tunnel\.handshake_failures\.(.+)$/, (m) => ({ name: 'edgerelay_tunnel_handshake_failures_total', labels: { reason: m[1]! }, help: 'Tunnel connections closed before their handshake completed, by error code.' })],
  [/^udp\.sent\.(\w+)$/, (m) => ({ name: 'edgerelay_udp_sent_total', labels: { kind: m[1]! }, help: 'Datagrams sent by a UDP out connector, by kind.' })],
]

const HELP: Record<string, string> = {
  edgerelay_tunnel_accepted_total: 'Tunnel connections accepted by a listening tunnel.',
  edgerelay_tunnel_connected_total: 'Tunnel connections a dialling tunnel completed (the first connect and every reconnect).',
  edgerelay_tunnel_retries_total: 'Reconnect attempts a dialling tunnel scheduled after a failure or a lost connection.',
  edgerelay_tunnel_refused_total: 'Tunnel peers refused (codec, token, version).',
  edgerelay_tunnel_protocol_errors_total: 'Tunnel connections closed for a protocol error.',
  edgerelay_tunnel_dead_peers_total: 'Tunnel connections closed because the peer went silent (heartbeat).',
  edgerelay_tunnel_error_frames_total: 'Error frames received from tunnel peers.',
  edgerelay_tunnel_unsupported_frames_total: 'Frames of a kind this version does not know, received and skipped.',
  edgerelay_tunnel_tls_refused_total: 'TLS clients refused (handshake failed, no or a wrong client certificate).',
  edgerelay_udp_flows_total: 'UDP flows opened (one per client address and port).',
  edgerelay_udp_requests_total: 'Requests received from UDP clients.',
  edgerelay_udp_events_total: 'Events received from UDP senders.',
  edgerelay_udp_replies_total: 'Replies delivered to UDP clients.',
  edgerelay_udp_sessions_lost_total: 'Flows ended because the local address they used went away.',
  edgerelay_http_requests_total: 'Requests to the http/https API.',
  edgerelay_http_replies_total: 'Device replies returned through the http/https API.',
  edgerelay_http_bad_requests_total: 'http/https API requests refused as malformed.',
  edgerelay_flows_open: 'Flows open now.',
  edgerelay_tunnel_connections: 'Tunnel connections open now (past their handshake).',
  edgerelay_tunnel_queue_packets: 'Packets waiting for a tunnel connection.',
  edgerelay_tunnel_queue_bytes: 'Payload bytes waiting for a tunnel connection.',
  edgerelay_tunnel_buffered_peak_bytes: 'Largest number of bytes buffered for a slow tunnel peer.',
  edgerelay_tunnel_request_rtt_seconds: 'Request round-trip time through the tunnel: request sent to its first reply (one request per flow at a time is timed).',
}

/** Peaks (Stats.max) and gauges: names that need a unit or a clearer name. */
const GAUGE_NAMES: Record<string, string> = { 'tunnel.buffered_peak': 'edgerelay_tunnel_buffered_peak_bytes' }
const HISTOGRAM_NAMES: Record<string, string> = { 'tunnel.request_rtt': 'edgerelay_tunnel_request_rtt_seconds' }

const sanitize = (name: string) => `edgerelay_${name.replace(/[^a-zA-Z0-9_]/g, '_')}`

function mapCounter(name: string): Mapped {
  for (const [re, map] of COUNTER_RULES) {
    const m = re.exec(name)
    if (m) return map(m)
  }
  const metric = `${sanitize(name)}_total`
  return { name: metric, labels: {}, help: HELP[metric] ?? `The half's ${name} counter.` }
}

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
const escapeHelp = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`)
  return parts.length ? `{${parts.join(',')}}` : ''
}

/** Prometheus number text: integers as they are, +Inf, NaN. */
function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Infinity) return '+Inf'
  if (v === -Infinity) return '-Inf'
  return String(v)
}

class Exposition {
  private readonly families = new Map<string, Family>()

  add(name: string, type: MetricType, help: string, labels: Labels, value: number, suffix = ''): void {
    let f = this.families.get(name)
    if (!f) this.families.set(name, (f = { type, help, lines: [] }))
    f.lines.push(`${name}${suffix}${labelText(labels)} ${num(value)}`)
  }

  histogram(name: string, help: string, labels: Labels, h: Histogram): void {
    const cumulative = h.cumulative()
    h.bounds.forEach((le, i) => this.add(name, 'histogram', help, { ...labels, le: String(le) }, cumulative[i]!, '_bucket'))
    this.add(name, 'histogram', help, { ...labels, le: '+Inf' }, h.count, '_bucket')
    this.add(name, 'histogram', help, labels, h.sum, '_sum')
    this.add(name, 'histogram', help, labels, h.count, '_count')
  }

  text(): string {
    let out = ''
    for (const [name, f] of this.families) out += `# HELP ${name} ${escapeHelp(f.help)}\n# TYPE ${name} ${f.type}\n${f.lines.join('\n')}\n`
    return out
  }
}

function addScope(x: Exposition, stats: Stats, labels: Labels): void {
  for (const [name, value] of [...stats.counters].sort(([a], [b]) => a.localeCompare(b))) {
    if (stats.peaks.has(name)) {
      const metric = GAUGE_NAMES[name] ?? sanitize(name)
      x.add(metric, 'gauge', HELP[metric] ?? `The half's ${name} peak.`, labels, value)
    } else {
      const m = mapCounter(name)
      x.add(m.name, 'counter', m.help, { ...labels, ...m.labels }, value)
    }
  }
  for (const [name, value] of stats.gaugeValues()) {
    const metric = GAUGE_NAMES[name] ?? sanitize(name)
    x.add(metric, 'gauge', HELP[metric] ?? `The half's ${name} gauge.`, labels, value)
  }
  for (const [name, h] of stats.histograms) {
    const metric = HISTOGRAM_NAMES[name] ?? `${sanitize(name)}_seconds`
    x.histogram(metric, HELP[metric] ?? `The half's ${name} histogram.`, labels, h)
  }
}

/** A series of the whole process rather than of one half (kernel drops on its UDP sockets). */
export interface ProcessMetric {
  name: string
  type: 'counter' | 'gauge'
  help: string
  value: number
}

/** What /metrics shows: build information, the process's own series, then every half's readiness and per-connector series. */
export function renderMetrics(halves: readonly Half[], info: Labels = {}, common: Labels = {}, processMetrics: readonly ProcessMetric[] = []): string {
  const x = new Exposition()
  if (Object.keys(info).length) x.add('edgerelay_build_info', 'gauge', 'Always 1; the labels say which edgerelay and runtime this is.', { ...common, ...info }, 1)
  for (const m of processMetrics) x.add(m.name, m.type, m.help, common, m.value)
  for (const half of halves) x.add('edgerelay_half_ready', 'gauge', '1 when the half can carry requests now, 0 while a tunnel it needs has no connection.', { ...common, half: half.name }, half.ready() ? 1 : 0)
  for (const half of halves) {
    for (const [side, stats] of half.stats.scoped()) {
      const connector = side === 'in' || side === 'out' ? half.connectors[side] : side
      addScope(x, stats, { ...common, half: half.name, side, connector })
    }
  }
  return x.text()
}

/** The content type of renderMetrics' text. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'
