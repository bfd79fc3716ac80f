// When to try a callback again, and when not to: shared by the SQLite outbox's
// delivery loop and the cluster's deliverer (cluster-delivery.ts).

/** The wait before attempt `attempts + 1`: doubling from `firstMs` up to `maxMs`, with jitter (half to all of it). */
export function retryDelay(attempts: number, firstMs: number, maxMs: number): number {
  const backoff = Math.min(maxMs, firstMs * 2 ** Math.min(attempts, 30));
  return backoff / 2 + Math.random() * (backoff / 2);
}

/** Errors that no retry can cure (the request could not even be built): dead-letter at once. */
export function permanent(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return err instanceof TypeError || code === 'UND_ERR_INVALID_ARG' || code === 'ERR_INVALID_CHAR' || code === 'ERR_INVALID_ARG_TYPE';
}
