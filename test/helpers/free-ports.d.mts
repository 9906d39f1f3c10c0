/** A port that was free a moment ago on 127.0.0.1 for both TCP and UDP, not one of `avoid`. */
export function freePort(opts?: { avoid?: Iterable<number> }): Promise<number>
/** Whether `err` (or its cause) says an address was in use: an errno, or a program's message. */
export function isAddressInUse(err: unknown): boolean
/**
 * Calls `start(ports)` with `count` distinct free ports, again with new ports (at most `attempts`
 * times in all) when it fails because a port was taken meanwhile. `start` stops what it started
 * before it throws.
 */
export function onFreePorts<T>(count: number, start: (ports: number[]) => Promise<T>, opts?: { attempts?: number; avoid?: Iterable<number> }): Promise<T>
