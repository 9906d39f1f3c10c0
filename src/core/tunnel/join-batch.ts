/**
 * Joins the writes gathered in one event-loop turn into one message (a WebSocket message carries
 * one or more length-prefixed frames). A single write is passed through without a copy.
 */
export function joinBatch(batch: Uint8Array[], totalBytes: number): Uint8Array {
  if (batch.length === 1) return batch[0]!
  const message = new Uint8Array(totalBytes)
  let off = 0
  for (const part of batch) {
    message.set(part, off)
    off += part.length
  }
  return message
}
