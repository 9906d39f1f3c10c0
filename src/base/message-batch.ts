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
    const message = new Uint8Array(total)
    let off = 0
    for (const part of parts) {
      message.set(part, off)
      off += part.length
    }
    return message
  }

  clear(): void {
    this.parts = undefined
    this.bytes = 0
  }
}
