import type { InterfaceAddress, Runtime } from '../ports/runtime.ts'
import { RelayError } from '../base/errors.ts'

/** The addresses of interface `name`; E_NO_SUCH_INTERFACE when there is no such interface. */
export function interfaceAddresses(rt: Runtime, name: string, text: string): InterfaceAddress[] {
  const all = rt.networkInterfaces?.()
  if (!all) throw new RelayError('E_UNSUPPORTED_ON_RUNTIME', `${text}: the ${rt.name} runtime cannot list network interfaces`)
  const mine = all.filter((a) => a.name === name)
  if (mine.length === 0 && rt.interfaceIndex?.(name) === undefined) {
    const names = [...new Set(all.map((a) => a.name))].join(', ')
    throw new RelayError('E_NO_SUCH_INTERFACE', `${text}: there is no network interface '${name}' (this host has ${names || 'none'})`)
  }
  return mine
}
