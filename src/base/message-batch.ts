/**
 * The largest message a writer builds from gathered writes (a bigger single write, which one frame
 * never is, goes out alone): the largest legal WebSocket message, so also the most a server
 * accepts (ws `maxPayload`); a test keeps it above the largest encoded frame.
 */
export const MAX_BATCH_BYTES = 256 * 1024

/**
 * Writes gathered during one event-loop turn, to leave as one message (a WebSocket message carries
 * one or more length-prefixed frames). Shared by every runtime's message-socket glue.
 */
export class MessageBatch {
  /** Allocated on the first write of a turn: an idle connection holds no array. */
  private parts: Uint8Array[] | undefined = undefined
  /** Bytes gathered and not yet taken. */
  bytes = 0

  add(data: Uint8Array): void {
    ;(this.parts ??= []).push(data)
    this.bytes += data.length
  }

  /** The gathered bytes as one message (a single write passes through uncopied), and resets. */
  take(): Uint8Array | undefined {
    const parts = this.parts
    if (parts === undefined || this.bytes === 0) return undefined
    const total = this.bytes
    this.clear()
    if (parts.length === 1) return parts[0]!
    return concatBytes(parts, total)
  }

  clear(): void {
    this.parts = undefined
    this.bytes = 0
  }
}

/** `parts` as one array of `total` bytes (their summed length). */
export function concatBytes(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total)
  let off = 0
  for (const part of parts) {
    out.set(part, off)
    off += part.length
  }
  return out
}
