/**
 * Hex dumps as Go's encoding/hex Dump writes them (uhppoted-tunnel's --debug output): an
 * 8-digit offset, 16 bytes a line in two groups of 8, and the printable ASCII between bars.
 */
export function hexDump(data: Uint8Array, indent = ''): string[] {
  const lines: string[] = []
  for (let offset = 0; offset < data.length; offset += 16) {
    const row = data.subarray(offset, Math.min(offset + 16, data.length))
    let hex = ''
    let ascii = ''
    for (let i = 0; i < 16; i++) {
      if (i === 8) hex += ' '
      if (i < row.length) {
        const b = row[i]!
        hex += `${b.toString(16).padStart(2, '0')} `
        ascii += b >= 0x20 && b <= 0x7e ? String.fromCharCode(b) : '.'
      } else {
        hex += '   '
      }
    }
    lines.push(`${indent}${offset.toString(16).padStart(8, '0')}  ${hex} |${ascii}|`)
  }
  return lines
}
