// Who did what from the console: each action is logged (info, `audit: true`)
// and the last ones are kept for the console's audit table.

import type { Logger } from '../../core/logger.js';

export interface AuditEntry {
  at: number;
  actor: string;
  ip: string;
  action: string;
  target: string;
  result: string;
}

export class AuditLog {
  private readonly entries: AuditEntry[] = [];

  constructor(private readonly log: Logger, private readonly max = 100) {}

  record(entry: Omit<AuditEntry, 'at'>): void {
    const full = { at: Date.now(), ...entry };
    this.entries.unshift(full);
    if (this.entries.length > this.max) this.entries.pop();
    this.log.info({ audit: true, actor: entry.actor, ip: entry.ip, action: entry.action, target: entry.target, result: entry.result }, 'console action');
  }

  /** Newest first. */
  list(): AuditEntry[] {
    return this.entries.slice();
  }
}
