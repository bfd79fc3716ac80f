// What delivery-thread.ts (the event loop's side) and delivery-worker.ts (the
// delivery thread) say to each other. One thread serves every outbox of the
// process; each message names its outbox by `id`.

import type { EventCallbacksOptions, PendingEvent } from './types.js';

/** Where each figure of stats() sits in the shared Float64Array the thread keeps up to date. */
export const STAT_FIELDS = ['depth', 'oldestAgeMs', 'deadLetters', 'delivered', 'retries', 'inFlight', 'unstored', 'storeFailures', 'lost'] as const;
/** After the figures: 1 while the outbox is open and every event is stored (readiness). */
export const STAT_READY = STAT_FIELDS.length;
export const STAT_SLOTS = STAT_FIELDS.length + 1;

export type ThreadCall = 'streamState' | 'retryDeadLetters' | 'idle' | 'stats' | 'stop';

export interface ErrorShape {
  name: string;
  message: string;
  code?: string | undefined;
}

export type ToDeliveryThread =
  | { kind: 'open'; id: number; options: EventCallbacksOptions; file: string; debug: boolean; stats: SharedArrayBuffer; resumed: boolean }
  | { kind: 'events'; id: number; batch: number; events: PendingEvent[] }
  | { kind: 'call'; id: number; call: number; method: ThreadCall; args: unknown[] };

export type FromDeliveryThread =
  | { kind: 'opened'; id: number; error?: ErrorShape }
  | { kind: 'stored'; id: number; batch: number }
  | { kind: 'result'; id: number; call: number; value?: unknown; error?: ErrorShape }
  | { kind: 'log'; id: number; level: 'error' | 'warn' | 'info' | 'debug'; fields: object; message: string };

export function errorShape(err: unknown): ErrorShape {
  const e = err as { name?: string; message?: string; code?: unknown };
  return { name: String(e?.name ?? 'Error'), message: String(e?.message ?? err), code: typeof e?.code === 'string' ? e.code : undefined };
}
