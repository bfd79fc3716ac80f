/** The minimal relay of the P1 benchmark (relay-baseline.mjs). */
export function startRelay(dir: string, providerSocket: string): Promise<{ port: number; close(): void }>;
