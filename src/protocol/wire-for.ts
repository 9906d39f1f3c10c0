import { codecByName } from './codecs/index.ts'
import { lengthPrefixedWire, uhppotedWire, type Wire } from './wire.ts'

const cache = new Map<string, Wire>()

/** The stream wire format for a codec name (`uhppoted` is a wire format of its own). */
export function wireFor(codec: string): Wire {
  let wire = cache.get(codec)
  if (!wire) {
    wire = codec === 'uhppoted' ? uhppotedWire : lengthPrefixedWire(codecByName(codec))
    cache.set(codec, wire)
  }
  return wire
}
