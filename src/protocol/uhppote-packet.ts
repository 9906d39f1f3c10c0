/**
 * The UHPPOTE controller packet, as much as routing needs: a request or reply is 64 bytes starting
 * with 0x17, and carries the controller's serial number as a little-endian u32 at bytes 4-7. Used
 * by ip/out (uhppoted-tunnel's IP/out) and by a half's --route serial= rules.
 */
export const UHPPOTE_SIZE = 64
export const UHPPOTE_SOM = 0x17

/** The controller a packet is for, or undefined for anything that is not a UHPPOTE packet. */
export function controllerOf(payload: Uint8Array): number | undefined {
  if (payload.length !== UHPPOTE_SIZE || payload[0] !== UHPPOTE_SOM) return undefined
  return (payload[4]! | (payload[5]! << 8) | (payload[6]! << 16) | (payload[7]! << 24)) >>> 0
}
