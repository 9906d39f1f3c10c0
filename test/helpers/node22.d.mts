export const NODE22_VERSION: string
export const NODE22_PATH: string
export function node22(): Promise<string>
