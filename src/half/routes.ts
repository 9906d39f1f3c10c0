/**
 * --route rules: which of a half's several --out connectors a packet goes to (uhppoted-tunnel's
 * "routing matrix"). A rule is `key=value` pairs, as connector options are:
 *
 *   in=<ref>,out=<ref>            packets from that --in
 *   serial=<n>,out=<ref>          UHPPOTE requests for controller n (the serial ip/out routes by)
 *   in=<ref>,serial=<n>,out=<ref> both
 *   out=<ref>                     everything else (the default)
 *
 * A ref is a 1-based position (`in=2`: the second --in) or a kind (`out=ws/client`) that exactly
 * one connector of that side has. The most specific rule wins: in and serial, then serial, then
 * in, then the default. Two rules of one rank that can match the same packet make the set
 * ambiguous; a set that leaves some packet without a route, or an --out no rule sends to, is
 * incomplete: both are refused when the half starts.
 */
import { RelayError } from '../base/errors.ts'
import type { OutSide, PacketKind } from '../core/connector.ts'
import { Flow, type FlowState } from '../core/flow.ts'
import type { ConnectorSpec } from '../net/connector-string.ts'
import { parseOptions } from '../net/options.ts'
import { failer } from '../base/scan.ts'
import { controllerOf } from '../protocol/uhppote-packet.ts'

export interface RouteRule {
  /** As written, for messages. */
  text: string
  /** 0-based index of the --in, when the rule names one. */
  in?: number
  serial?: number
  /** 0-based index of the --out. */
  out: number
}

const KEYS = new Set(['in', 'serial', 'out'])

const kindOf = (s: ConnectorSpec) => (s.role ? `${s.kind}/${s.role}` : s.kind)

/** Resolves `in=2` or `in=ws/server` to an index into `specs`. */
function refOf(value: string, specs: readonly ConnectorSpec[], side: 'in' | 'out', rule: string): number {
  if (/^[1-9][0-9]*$/.test(value)) {
    const n = Number(value)
    if (n > specs.length) throw new RelayError('E_CONFIG', `--route ${rule}: ${side}=${value}, but there ${specs.length === 1 ? 'is one' : `are ${specs.length}`} --${side}`)
    return n - 1
  }
  const matching = specs.flatMap((s, i) => (kindOf(s) === value.toLowerCase() ? [i] : []))
  if (matching.length === 1) return matching[0]!
  const listed = specs.map((s, i) => `${i + 1}: ${s.text}`).join('; ')
  throw new RelayError('E_CONFIG', `--route ${rule}: ${side}=${value} ${matching.length === 0 ? 'names no' : 'names more than one'} --${side} (${listed}); give its position (${side}=1, ...)`)
}

/** Parses the rules against the half's connectors and checks the set (see the file header). */
export function parseRoutes(texts: readonly string[], ins: readonly ConnectorSpec[], outs: readonly ConnectorSpec[]): RouteRule[] {
  if (outs.length < 2) {
    if (texts.length) throw new RelayError('E_CONFIG', `--route picks among several --out connectors; this half has one (${outs[0]?.text})`)
    return []
  }
  if (texts.length === 0) throw new RelayError('E_CONFIG', `this half has ${outs.length} --out connectors (${outs.map((o) => o.text).join(', ')}): say which packets go where with --route (e.g. --route in=1,out=1 --route out=2)`)
  const rules = texts.map((text): RouteRule => {
    // The text is parsed as connector options are, after a comma it does not have.
    const { options } = parseOptions(`,${text}`, 0, text.length + 1, failer(text, -1), 'E_CONFIG')
    for (const key of Object.keys(options)) {
      if (!KEYS.has(key)) throw new RelayError('E_CONFIG', `--route ${text}: unknown key '${key}' (keys: in=, serial=, out=)`)
    }
    if (options.out === undefined) throw new RelayError('E_CONFIG', `--route ${text}: needs out=<position or kind> (where the packets go)`)
    const rule: RouteRule = { text, out: refOf(options.out, outs, 'out', text) }
    if (options.in !== undefined) rule.in = refOf(options.in, ins, 'in', text)
    if (options.serial !== undefined) {
      if (!/^[0-9]{1,10}$/.test(options.serial) || Number(options.serial) > 0xffffffff) throw new RelayError('E_CONFIG', `--route ${text}: serial= is a controller serial number (0-4294967295), not '${options.serial}'`)
      rule.serial = Number(options.serial)
    }
    return rule
  })
  checkRules(rules, ins, outs)
  return rules
}

const rank = (r: RouteRule) => (r.in !== undefined ? 1 : 0) + (r.serial !== undefined ? 2 : 0)

function checkRules(rules: RouteRule[], ins: readonly ConnectorSpec[], outs: readonly ConnectorSpec[]): void {
  for (let a = 0; a < rules.length; a++) {
    for (let b = a + 1; b < rules.length; b++) {
      const x = rules[a]!
      const y = rules[b]!
      // Same rank and same constraints: both match the same packets.
      if (rank(x) === rank(y) && x.in === y.in && x.serial === y.serial) {
        throw new RelayError('E_CONFIG', x.out === y.out ? `--route ${y.text} repeats --route ${x.text}` : `--route ${x.text} and --route ${y.text} are ambiguous: they match the same packets and send them to different --out`)
      }
    }
  }
  // Every packet needs a route: a default, or a rule for its --in (serial rules cover only some requests).
  const fallback = rules.some((r) => rank(r) === 0)
  for (let i = 0; i < ins.length && !fallback; i++) {
    if (!rules.some((r) => rank(r) === 1 && r.in === i)) {
      throw new RelayError('E_CONFIG', `no --route for packets from --in ${i + 1} (${ins[i]!.text}) that no serial= rule takes: add --route in=${i + 1},out=... or a default --route out=...`)
    }
  }
  for (let o = 0; o < outs.length; o++) {
    if (!rules.some((r) => r.out === o)) throw new RelayError('E_CONFIG', `--out ${o + 1} (${outs[o]!.text}) is the target of no --route: nothing would reach it`)
  }
}

/** The out connector of one --in's packet: the most specific rule that matches. */
function pick(rules: readonly RouteRule[], inIndex: number, serial: number | undefined): number {
  let best: RouteRule | undefined
  for (const r of rules) {
    if (r.in !== undefined && r.in !== inIndex) continue
    if (r.serial !== undefined && r.serial !== serial) continue
    if (!best || rank(r) > rank(best)) best = r
  }
  // checkRules made sure every --in has a rule that always matches.
  return best!.out
}

/** A flow's stand-in at each --out it was routed to, so each out connector keeps its own state on it. */
class RoutedFlow implements FlowState {
  readonly at: (Flow | undefined)[]
  constructor(outs: number) {
    this.at = new Array<Flow | undefined>(outs)
  }
  release(): void {
    for (const f of this.at) f?.close()
  }
}

/**
 * The sink each --in hands its packets to. An --in whose packets can go to one --out only (no
 * serial rule applies to it) gets that out connector itself, at no cost; the others look at each
 * request's serial and give every --out a stand-in flow of its own, whose replies go to the real one.
 */
export function routedSink(rules: readonly RouteRule[], inIndex: number, outs: readonly OutSide[]): OutSide {
  const reachable = new Set(rules.filter((r) => r.in === undefined || r.in === inIndex).map((r) => r.out))
  const serialRules = rules.some((r) => r.serial !== undefined && (r.in === undefined || r.in === inIndex))
  // Streams carry no serial: they go where this --in's other packets go.
  const base = outs[pick(rules, inIndex, undefined)]!
  if (!serialRules || reachable.size === 1) return base
  const side: OutSide = {
    send(flow: Flow, kind: PacketKind, id: number, payload: Uint8Array) {
      const o = pick(rules, inIndex, kind === 'request' ? controllerOf(payload) : undefined)
      let routed = flow.out as RoutedFlow | undefined
      if (!routed) flow.out = routed = new RoutedFlow(outs.length)
      let stand = routed.at[o]
      if (!stand) {
        stand = routed.at[o] = new Flow(flow.label, (rid, data) => flow.reply(rid, data), Date.now())
        if (flow.dst !== undefined) stand.dst = flow.dst
      }
      outs[o]!.send(stand, kind, id, payload)
    },
    takesDestinations: [...reachable].every((o) => outs[o]!.takesDestinations === true),
  }
  if (base.openStream) side.openStream = base.openStream.bind(base)
  return side
}
