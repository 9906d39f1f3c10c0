/**
 * Dialer plugins by URL scheme, loaded on first use so a half without a proxy never loads one.
 * A new kind is one file implementing DialerPlugin plus one line here (or registerDialer() from
 * outside: an embedding program adds its own).
 */
import type { DialerPlugin } from './dialer.ts'

const loaders = new Map<string, () => Promise<DialerPlugin>>([
  ['http', async () => (await import('./http-connect.ts')).httpConnectDialer],
  ['socks5', async () => (await import('./socks5.ts')).socks5Dialer],
  ['socks5h', async () => (await import('./socks5.ts')).socks5Dialer],
])

/** Default ports by scheme, known before the plugin is loaded (URLs are checked at start). */
const defaultPorts = new Map<string, number>([
  // curl's default for every proxy kind.
  ['http', 1080],
  ['socks5', 1080],
  ['socks5h', 1080],
])

/** Adds (or replaces) the plugin for its schemes. */
export function registerDialer(plugin: DialerPlugin): void {
  for (const scheme of plugin.schemes) {
    loaders.set(scheme, () => Promise.resolve(plugin))
    defaultPorts.set(scheme, plugin.defaultPort)
  }
}

export function dialerSchemes(): string[] {
  return [...loaders.keys()]
}

export function defaultPortOf(scheme: string): number | undefined {
  return defaultPorts.get(scheme)
}

/** The plugin for a scheme (known to exist: proxy URLs are checked against dialerSchemes()). */
export async function dialerFor(scheme: string): Promise<DialerPlugin> {
  const load = loaders.get(scheme)
  if (!load) throw new Error(`no dialer plugin for ${scheme}://`)
  return load()
}
