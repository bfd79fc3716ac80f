// The console's "recent errors": the last requests that ended in an error,
// newest first, in a fixed-size ring (text fields cut to a length, so a
// caller's long task name or message costs nothing more).

import type { RequestTelemetry } from '../../core/runtime.js';

export interface RecentError {
  at: number;
  code: string;
  task: string;
  requestId: string;
  message: string;
}

const OK_OUTCOMES = new Set(['ok', 'forwarded']);

export class RecentErrors {
  private readonly ring: Array<RecentError | undefined>;
  private next = 0;

  constructor(readonly capacity = 200) {
    this.ring = new Array<RecentError | undefined>(capacity);
  }

  /** Record a settled request if it failed. */
  note(e: RequestTelemetry): void {
    if (OK_OUTCOMES.has(e.outcome)) return;
    this.ring[this.next] = {
      at: Date.now(),
      code: e.outcome.slice(0, 40),
      task: e.task.slice(0, 64),
      requestId: e.id.slice(0, 128),
      message: (e.error ?? '').slice(0, 240),
    };
    this.next = (this.next + 1) % this.capacity;
  }

  /** Newest first. */
  list(): RecentError[] {
    const out: RecentError[] = [];
    for (let i = 1; i <= this.capacity; i += 1) {
      const entry = this.ring[(this.next - i + this.capacity) % this.capacity];
      if (entry) out.push(entry);
    }
    return out;
  }
}
