/** Concatenates byte arrays. */
export function concat(parts: readonly Uint8Array[]): Uint8Array
/** Bytes from hex text; whitespace is ignored ('08 01 ac02'). */
export function hex(text: string): Uint8Array
/** Hex text of `bytes`, space-separated ('08 01 ac'). */
export function toHex(bytes: Uint8Array): string
