import { RelayError } from '../../base/errors.ts'
import { avroCodec } from './avro.ts'
import { msgpackCodec } from './msgpack.ts'
import { protobufCodec } from './protobuf.ts'
import type { Codec } from './types.ts'
import { uhppotedCodec } from './uhppoted.ts'

/** Names accepted by `--codec`, default first. */
export const CODEC_NAMES = ['protobuf', 'avro', 'msgpack', 'uhppoted'] as const
export type CodecName = (typeof CODEC_NAMES)[number]

const CODECS: Record<CodecName, Codec> = {
  protobuf: protobufCodec,
  avro: avroCodec,
  msgpack: msgpackCodec,
  uhppoted: uhppotedCodec,
}

export function codecByName(name: string): Codec {
  if (Object.hasOwn(CODECS, name)) return CODECS[name as CodecName]
  throw new RelayError('E_UNKNOWN_CODEC', `unknown codec '${name}': use one of ${CODEC_NAMES.join(', ')}`)
}
