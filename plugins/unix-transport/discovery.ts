// Provider discovery: providers of task T are the unix sockets in
// <socketDir>/T/, best priority first. The listing is cached per task and
// re-read only when the directory's mtime changes (one stat per request
// instead of a readdir plus a stat per entry), so providers that appear or
// disappear are noticed at once.

import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CoordinatorError } from '../../core/errors.js';

/** Directories under socketDir that are not tasks (and would make the coordinator talk to itself). */
export const RESERVED_TASK_NAMES = new Set(['coordinator', 'response', 'streams', 'inbound-streams']);
const TASK_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,254}$/;

export function assertTaskName(task: string, requestId?: string): void {
  if (!TASK_NAME.test(task) || task === '.' || task === '..' || RESERVED_TASK_NAMES.has(task)) {
    throw new CoordinatorError('ERR_BAD_TASK_NAME', `invalid task name ${JSON.stringify(task)}`, { ...(requestId ? { requestId } : {}) });
  }
}

export interface ProviderSocket {
  name: string;
  path: string;
  /** Priority from the `<priority>-` prefix; unprefixed names sort after every prefixed one. */
  priority: number;
}

/** Parse `<priority>-<name>.sock`; unprefixed names get +Infinity. */
export function socketPriority(fileName: string): number {
  const match = /^(\d+)-/.exec(fileName);
  return match ? Number(match[1]) : Number.POSITIVE_INFINITY;
}

/**
 * Smaller priority number first, compared as numbers; ties broken by name.
 * The Go coordinator compared names as text (10- < 100- < 20- < 9-, weakness
 * W9), which agrees with this only among numbers of equal width.
 */
export function compareSockets(a: ProviderSocket, b: ProviderSocket): number {
  if (a.priority !== b.priority) return a.priority < b.priority ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

interface CacheEntry {
  mtimeNs: bigint;
  sockets: ProviderSocket[];
}

export class ProviderDirectory {
  private readonly cache = new Map<string, CacheEntry>();

  constructor(private readonly socketDir: string) {}

  /** Sockets serving `task`, best first; [] when none. */
  async list(task: string): Promise<ProviderSocket[]> {
    const dir = path.join(this.socketDir, task);
    let mtimeNs: bigint;
    try {
      mtimeNs = (await fs.stat(dir, { bigint: true })).mtimeNs;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') {
        this.cache.delete(task);
        return [];
      }
      throw err;
    }
    const cached = this.cache.get(task);
    if (cached && cached.mtimeNs === mtimeNs) return cached.sockets;
    const sockets: ProviderSocket[] = [];
    const entries = await fs.readdir(dir, { withFileTypes: true });
    for (const entry of entries) {
      if (!entry.isSocket()) continue; // files, directories and symlinks are not providers
      sockets.push({ name: entry.name, path: path.join(dir, entry.name), priority: socketPriority(entry.name) });
    }
    sockets.sort(compareSockets);
    this.cache.set(task, { mtimeNs, sockets });
    return sockets;
  }

  /** Forget a task's listing (e.g. after a send found a socket gone). */
  invalidate(task: string): void {
    this.cache.delete(task);
  }
}
