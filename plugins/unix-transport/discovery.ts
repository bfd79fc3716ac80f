// Provider discovery: providers of task T are the unix sockets in
// <socketDir>/T/, best priority first. The listing is cached per task and
// watched (inotify): no I/O per request while nothing changes; a change
// drops it and the next request reads the directory again.

import { promises as fs, watch, type FSWatcher } from 'node:fs';
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
  /** Set while a watcher on the directory vouches for this listing: no stat needed. */
  watcher: FSWatcher | undefined;
}

/** Directories watched at once at most; past it, listings are checked with a stat per request. */
const MAX_WATCHED = 1024;

export class ProviderDirectory {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly loading = new Map<string, Promise<ProviderSocket[]>>();
  private watched = 0;
  private closed = false;

  constructor(private readonly socketDir: string) {}

  /**
   * Sockets serving `task`, best first; [] when none. A listing is kept
   * while an inotify watch on the task directory says nothing changed (no
   * I/O per request, the hot path); a change, or no watch, means a stat (and
   * a readdir when the directory's mtime moved).
   */
  async list(task: string): Promise<ProviderSocket[]> {
    const cached = this.cache.get(task);
    if (cached?.watcher) return cached.sockets;
    // Concurrent requests for a task share one look at the directory.
    let loading = this.loading.get(task);
    if (!loading) {
      loading = this.load(task).finally(() => this.loading.delete(task));
      this.loading.set(task, loading);
    }
    return loading;
  }

  private async load(task: string): Promise<ProviderSocket[]> {
    const dir = path.join(this.socketDir, task);
    let mtimeNs: bigint;
    try {
      mtimeNs = (await fs.stat(dir, { bigint: true })).mtimeNs;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') {
        this.forget(task);
        return [];
      }
      throw err;
    }
    const known = this.cache.get(task);
    if (known && known.mtimeNs === mtimeNs) {
      known.watcher ??= this.watch(task, dir, () => undefined);
      return known.sockets;
    }
    this.forget(task);
    // Watch first, then read: a change during the read means the listing is not kept.
    let changed = false;
    const watcher = this.watch(task, dir, () => { changed = true; });
    const sockets: ProviderSocket[] = [];
    let entries;
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (err) {
      watcher?.close();
      throw err;
    }
    for (const item of entries) {
      if (!item.isSocket()) continue; // files, directories and symlinks are not providers
      sockets.push({ name: item.name, path: path.join(dir, item.name), priority: socketPriority(item.name) });
    }
    sockets.sort(compareSockets);
    if (changed) watcher?.close();
    else this.cache.set(task, { mtimeNs, sockets, watcher });
    return sockets;
  }

  private watch(task: string, dir: string, onChange: () => void): FSWatcher | undefined {
    if (this.closed || this.watched >= MAX_WATCHED) return undefined;
    let watcher: FSWatcher;
    try {
      watcher = watch(dir, { persistent: false });
    } catch {
      return undefined;
    }
    this.watched += 1;
    let open = true;
    const drop = () => {
      onChange();
      const entry = this.cache.get(task);
      if (entry?.watcher === watcher) this.forget(task);
      else if (open) { open = false; watcher.close(); }
    };
    watcher.on('change', drop);
    watcher.on('error', drop);
    watcher.on('close', () => { open = false; this.watched -= 1; });
    return watcher;
  }

  private forget(task: string): void {
    const entry = this.cache.get(task);
    if (!entry) return;
    this.cache.delete(task);
    entry.watcher?.close();
  }

  /** Forget a task's listing (e.g. after a send found a socket gone). */
  invalidate(task: string): void {
    this.forget(task);
  }

  /** Stop every watch (at stop). */
  close(): void {
    this.closed = true;
    for (const task of [...this.cache.keys()]) this.forget(task);
  }
}
