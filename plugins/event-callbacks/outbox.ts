// The durable outbox of application callbacks, in an embedded SQLite file.
// An event is written here (in one transaction with its per-stream sequence
// number) before anything else happens, so neither a crash nor a dead
// application loses it; the delivery loop reads the head of each stream.
//
// Also keeps the announced streams (stream-available seen, stream-closed not
// yet delivered), which the original kept in active_streams.txt, and the
// guard that makes stream-closed happen once per stream id.

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { openSqlite, type SqliteDatabase } from './sqlite.js';

export type CallbackType = 'stream-available' | 'stream-closed';

export interface OutboxRow {
  id: number;
  deliveryId: string;
  streamKey: string;
  channel: string;
  streamId: string;
  seq: number;
  type: CallbackType;
  /** Event headers (x-…), without Authorization or signature. */
  headers: Record<string, string>;
  createdAt: number;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
}

interface RawRow {
  id: number;
  delivery_id: string;
  stream_key: string;
  channel: string;
  stream_id: string;
  seq: number;
  type: CallbackType;
  headers: string;
  created_at: number;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  delivery_id TEXT NOT NULL UNIQUE,
  stream_key TEXT NOT NULL,
  channel TEXT NOT NULL,
  stream_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  headers TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT
);
CREATE INDEX IF NOT EXISTS outbox_stream ON outbox (stream_key, id);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_attempt_at);
CREATE TABLE IF NOT EXISTS dead_letters (
  id INTEGER PRIMARY KEY,
  delivery_id TEXT NOT NULL,
  stream_key TEXT NOT NULL,
  channel TEXT NOT NULL,
  stream_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  headers TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  last_error TEXT,
  died_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_stream ON dead_letters (stream_key);
CREATE TABLE IF NOT EXISTS stream_seq (stream_key TEXT PRIMARY KEY, next_seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS announced (channel TEXT NOT NULL, stream_id TEXT NOT NULL, announced_at INTEGER NOT NULL, PRIMARY KEY (channel, stream_id));
CREATE TABLE IF NOT EXISTS closed_guard (stream_id TEXT PRIMARY KEY, closed_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

function fromRaw(raw: RawRow): OutboxRow {
  return {
    id: raw.id,
    deliveryId: raw.delivery_id,
    streamKey: raw.stream_key,
    channel: raw.channel,
    streamId: raw.stream_id,
    seq: raw.seq,
    type: raw.type,
    headers: JSON.parse(raw.headers) as Record<string, string>,
    createdAt: raw.created_at,
    attempts: raw.attempts,
    nextAttemptAt: raw.next_attempt_at,
    lastError: raw.last_error,
  };
}

/**
 * The key of one stream's queue: the JSON array [channel, streamId] (what
 * SQLite's json_array writes too). Earlier versions joined the two with a
 * NUL character, which some SQLite bindings cut strings at; such rows are
 * rewritten when the outbox opens.
 */
export function streamKeyOf(channel: string, streamId: string): string {
  return JSON.stringify([channel, streamId]);
}

const MIGRATE_NUL_KEYS = `
UPDATE outbox SET stream_key = json_array(channel, stream_id) WHERE instr(stream_key, char(0)) > 0;
UPDATE dead_letters SET stream_key = json_array(channel, stream_id) WHERE instr(stream_key, char(0)) > 0;
UPDATE stream_seq SET stream_key = json_array(substr(stream_key, 1, instr(stream_key, char(0)) - 1), substr(stream_key, instr(stream_key, char(0)) + 1)) WHERE instr(stream_key, char(0)) > 0;
`;

export class Outbox {
  private readonly db: SqliteDatabase;
  private readonly statements;

  /**
   * busyTimeoutMs: how long a write waits for another process's lock; the
   * wait blocks the event loop, so it is a few ms and a busy database is
   * retried from memory instead. maxBytes: the file may not grow past this
   * (0: no limit); a full outbox is like a full disk.
   */
  constructor(file: string, options: { busyTimeoutMs?: number; maxBytes?: number; driver?: SqliteDatabase['driver'] } = {}) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    this.db = openSqlite(file, options.driver ? { driver: options.driver } : {});
    this.db.exec(`PRAGMA busy_timeout = ${options.busyTimeoutMs ?? 2}`);
    this.db.pragma('journal_mode = WAL');
    this.db.exec('PRAGMA synchronous = NORMAL');
    this.db.exec(SCHEMA);
    this.db.exec(MIGRATE_NUL_KEYS);
    if (options.maxBytes) {
      const pageSize = Number(this.db.pragma('page_size'));
      this.db.pragma(`max_page_count = ${Math.max(1, Math.floor(options.maxBytes / pageSize))}`);
    }
    const db = this.db;
    this.statements = {
      nextSeq: db.prepare('SELECT next_seq FROM stream_seq WHERE stream_key = ?'),
      setSeq: db.prepare('INSERT INTO stream_seq (stream_key, next_seq) VALUES (?, ?) ON CONFLICT(stream_key) DO UPDATE SET next_seq = excluded.next_seq'),
      insert: db.prepare('INSERT INTO outbox (delivery_id, stream_key, channel, stream_id, seq, type, headers, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      heads: db.prepare(`
        SELECT o.* FROM outbox o
        WHERE o.id = (SELECT MIN(id) FROM outbox WHERE stream_key = o.stream_key)
        ORDER BY o.next_attempt_at, o.id LIMIT ?`),
      remove: db.prepare('DELETE FROM outbox WHERE id = ?'),
      reschedule: db.prepare('UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?'),
      toDead: db.prepare('INSERT INTO dead_letters (id, delivery_id, stream_key, channel, stream_id, seq, type, headers, created_at, attempts, last_error, died_at) SELECT id, delivery_id, stream_key, channel, stream_id, seq, type, headers, created_at, attempts + 1, ?, ? FROM outbox WHERE id = ?'),
      depth: db.prepare('SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox'),
      deadCount: db.prepare('SELECT COUNT(*) AS n FROM dead_letters'),
      announce: db.prepare('INSERT OR IGNORE INTO announced (channel, stream_id, announced_at) VALUES (?, ?, ?)'),
      isAnnounced: db.prepare('SELECT COUNT(*) AS n FROM announced WHERE channel = ? AND stream_id = ?'),
      unannounce: db.prepare('DELETE FROM announced WHERE channel = ? AND stream_id = ?'),
      announcedAll: db.prepare('SELECT channel, stream_id FROM announced'),
      guard: db.prepare('INSERT OR IGNORE INTO closed_guard (stream_id, closed_at) VALUES (?, ?)'),
      pruneGuard: db.prepare('DELETE FROM closed_guard WHERE closed_at < ?'),
      pendingClosed: db.prepare("SELECT COUNT(*) AS n FROM outbox WHERE stream_key = ? AND type = 'stream-closed'"),
      streamPending: db.prepare('SELECT COUNT(*) AS n, MAX(attempts) AS attempts, MIN(next_attempt_at) AS next FROM outbox WHERE stream_key = ?'),
      streamError: db.prepare('SELECT last_error FROM outbox WHERE stream_key = ? AND last_error IS NOT NULL ORDER BY id LIMIT 1'),
      streamDead: db.prepare('SELECT COUNT(*) AS n FROM dead_letters WHERE stream_key = ?'),
      revive: db.prepare('INSERT INTO outbox (id, delivery_id, stream_key, channel, stream_id, seq, type, headers, created_at, attempts, next_attempt_at, last_error) SELECT id, delivery_id, stream_key, channel, stream_id, seq, type, headers, ?, 0, ?, last_error FROM dead_letters ORDER BY id LIMIT ?'),
      reviveDelete: db.prepare('DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters ORDER BY id LIMIT ?)'),
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
      setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
    };
  }

  /** Append an event to its stream's queue, with the next sequence number of that stream. */
  readonly enqueue = (type: CallbackType, channel: string, streamId: string, headers: Record<string, string>, now = Date.now()): OutboxRow => {
    return this.db.transaction(() => {
      const streamKey = streamKeyOf(channel, streamId);
      const seq = this.statements.nextSeq.get(streamKey)?.next_seq ?? 1;
      this.statements.setSeq.run(streamKey, seq + 1);
      const deliveryId = randomUUID();
      const info = this.statements.insert.run(deliveryId, streamKey, channel, streamId, seq, type, JSON.stringify(headers), now, now);
      return { id: Number(info.lastInsertRowid), deliveryId, streamKey, channel, streamId, seq, type, headers, createdAt: now, attempts: 0, nextAttemptAt: now, lastError: null };
    })();
  };

  /** stream-available: announce the stream and queue its event, in one transaction. */
  readonly announceAndEnqueue = (channel: string, streamId: string, headers: Record<string, string>, now = Date.now()): OutboxRow => {
    return this.db.transaction(() => {
      this.statements.announce.run(channel, streamId, now);
      return this.enqueue('stream-available', channel, streamId, headers, now);
    })();
  };

  /**
   * The next events to send: the head of each stream not being delivered
   * now, due ones first, at most `slots`; and when the next one not yet due
   * falls due. One query per call, whatever the number of streams in flight.
   */
  nextBatch(now: number, busyStreams: ReadonlySet<string>, slots: number): { due: OutboxRow[]; wakeAt: number | undefined } {
    const due: OutboxRow[] = [];
    let wakeAt: number | undefined;
    if (slots <= 0) return { due, wakeAt };
    for (const raw of this.statements.heads.all(busyStreams.size + slots) as RawRow[]) {
      if (busyStreams.has(raw.stream_key)) continue;
      if (raw.next_attempt_at > now) {
        wakeAt = raw.next_attempt_at;
        break;
      }
      due.push(fromRaw(raw));
      if (due.length >= slots) break;
    }
    return { due, wakeAt };
  }

  /** Delivered: remove it; a delivered stream-closed also ends the stream's announcement. */
  readonly delivered = (row: OutboxRow): void => {
    if (row.type !== 'stream-closed') {
      this.statements.remove.run(row.id); // one statement: its own transaction
      return;
    }
    this.db.transaction(() => {
      this.statements.remove.run(row.id);
      this.statements.unannounce.run(row.channel, row.streamId);
    })();
  };

  /** Several delivered events removed in one transaction (deliveries of one event-loop turn). */
  readonly deliveredMany = (rows: OutboxRow[]): void => {
    if (rows.length === 1) {
      this.delivered(rows[0]!);
      return;
    }
    this.db.transaction(() => {
      for (const row of rows) {
        this.statements.remove.run(row.id);
        if (row.type === 'stream-closed') this.statements.unannounce.run(row.channel, row.streamId);
      }
    })();
  };

  retryLater(row: OutboxRow, nextAttemptAt: number, error: string): void {
    this.statements.reschedule.run(nextAttemptAt, error, row.id);
  }

  readonly deadLetter = (row: OutboxRow, error: string, now = Date.now()): void => {
    this.db.transaction(() => {
      this.statements.toDead.run(error, now, row.id);
      this.statements.remove.run(row.id);
    })();
  };

  stats(now = Date.now()): { depth: number; oldestAgeMs: number; deadLetters: number } {
    const depth = this.statements.depth.get()!;
    return { depth: depth.n, oldestAgeMs: depth.oldest === null ? 0 : now - depth.oldest, deadLetters: this.statements.deadCount.get()!.n };
  }

  /** One stream's callbacks: waiting (with the most attempts one has had and its last error) and dead-lettered. */
  streamState(channel: string, streamId: string): { pending: number; attempts: number; nextAttemptAt: number | null; lastError: string | null; deadLetters: number } {
    const key = streamKeyOf(channel, streamId);
    const pending = this.statements.streamPending.get(key)!;
    return {
      pending: pending.n,
      attempts: pending.attempts ?? 0,
      nextAttemptAt: pending.next ?? null,
      lastError: pending.n > 0 ? (this.statements.streamError.get(key)?.last_error ?? null) : null,
      deadLetters: this.statements.streamDead.get(key)!.n,
    };
  }

  /**
   * Dead letters back into the outbox (oldest first, at most `limit`), due
   * now with their attempts reset. Each keeps its id, delivery id and
   * sequence number, so it sits where it was in its stream's order and the
   * application can tell a retry from a new event.
   */
  readonly reviveDeadLetters = (limit: number, now = Date.now()): number => {
    return this.db.transaction(() => {
      const moved = Number(this.statements.revive.run(now, now, limit).changes);
      this.statements.reviveDelete.run(limit);
      return moved;
    })();
  };

  announce(channel: string, streamId: string, now = Date.now()): void {
    this.statements.announce.run(channel, streamId, now);
  }

  /**
   * Start the stream-closed of an announced stream, once per stream id. Returns
   * false when the stream was never announced or its close already started.
   */
  readonly startClose = (channel: string, streamId: string, headers: Record<string, string>, now = Date.now()): OutboxRow | undefined => {
    return this.db.transaction(() => {
      if (this.statements.isAnnounced.get(channel, streamId)!.n === 0) return undefined;
      if (this.statements.guard.run(streamId, now).changes === 0) return undefined;
      return this.enqueue('stream-closed', channel, streamId, headers, now);
    })();
  };

  /** Announced streams that have no stream-closed waiting (to close at boot). */
  announcedWithoutClose(): Array<{ channel: string; streamId: string }> {
    return this.statements.announcedAll.all()
      .filter((r) => this.statements.pendingClosed.get(streamKeyOf(r.channel, r.stream_id))!.n === 0)
      .map((r) => ({ channel: r.channel, streamId: r.stream_id }));
  }

  /** Forget close guards older than `before` (the original never pruned them). */
  pruneGuards(before: number): void {
    this.statements.pruneGuard.run(before);
  }

  /** Guard against a stream id at boot (its close is being sent again). */
  clearGuard(streamId: string): void {
    this.db.prepare('DELETE FROM closed_guard WHERE stream_id = ?').run(streamId);
  }

  meta(key: string): string | undefined {
    return this.statements.getMeta.get(key)?.value;
  }

  setMeta(key: string, value: string): void {
    this.statements.setMeta.run(key, value);
  }

  close(): void {
    this.db.close();
  }
}
