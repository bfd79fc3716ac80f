// The durable outbox of application callbacks, in an embedded SQLite file.
// An event is written here (in one transaction with its per-stream sequence
// number) before anything else happens, so neither a crash nor a dead
// application loses it; the delivery loop reads the head of each stream.
//
// Also keeps the announced streams (stream-available seen, stream-closed not
// yet delivered), which the original kept in active_streams.txt, and the
// guard that makes stream-closed happen once per stream id.
//
// Only the head of each stream's queue (its oldest row) carries its real
// next_attempt_at; the rows behind it are parked (PARKED). The delivery loop
// then reads the due heads straight off the next_attempt_at index, in time
// order, whatever the depth of the queues behind them; delivering or
// dead-lettering a head un-parks the next row of its stream.
//
// The index of rows by stream (outbox_stream) exists only while the outbox
// holds more rows than the schedule keeps in memory (maxCachedRows): only
// then are a stream's rows read back from disk. Below that every row is in
// memory and the index would only cost writes: each commit would rewrite
// one of its pages per stream touched, which measured as the larger part of
// the outbox's cost under a backlog (see docs/ARCHITECTURE.md). It is built
// when the rows outgrow memory and dropped when the outbox is empty again.

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { CoordinatorError } from '../../core/errors.js';
import { writesVerbatim } from '../../core/codec.js';
import { openSqlite, type SqliteDatabase, type SqliteStatement } from './sqlite.js';
import { StreamSchedule } from './schedule.js';

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
  delivery_id TEXT NOT NULL,
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
-- What is due is decided in memory (schedule.ts): no index on next_attempt_at to keep up on every write.
DROP INDEX IF EXISTS outbox_due;
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
-- Old guards are pruned a batch at a time, oldest first; with them the sequence numbers of their streams (by stream id: SEQ_BY_STREAM_ID).
CREATE INDEX IF NOT EXISTS closed_guard_at ON closed_guard (closed_at);
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
/** next_attempt_at of rows waiting behind their stream's head (far beyond any real time). */
export const PARKED = 8_640_000_000_000_000;

/** Streams whose next sequence number and announcement are remembered in memory, at most. */
const MAX_CACHED_STREAMS = 50_000;

/** Rows appended by appending(), not inserted yet: the rows (their ids set once inserted) and their columns, INSERT_COLUMNS a row. */
interface Appended {
  rows: OutboxRow[];
  columns: unknown[];
}

const INSERT_ROWS = 'INSERT INTO outbox (delivery_id, stream_key, channel, stream_id, seq, type, headers, created_at, next_attempt_at) VALUES';
const INSERT_VALUES = '(?, ?, ?, ?, ?, ?, ?, ?, ?)';
const INSERT_COLUMNS = 9;
/** The row counts of appending()'s inserts, largest first (measured: from ~8 rows a statement on, more rows save nothing). */
const APPEND_CHUNKS = [16, 4, 1];

const CREATE_STREAM_INDEX = 'CREATE INDEX IF NOT EXISTS outbox_stream ON outbox (stream_key, id)';
const DROP_STREAM_INDEX = 'DROP INDEX IF EXISTS outbox_stream';

export function streamKeyOf(channel: string, streamId: string): string {
  // The common case built directly (once per event on the write path); the same text as JSON.stringify.
  if (writesVerbatim(channel) && writesVerbatim(streamId)) return `["${channel}","${streamId}"]`;
  return JSON.stringify([channel, streamId]);
}

/** Made after MIGRATE_NUL_KEYS: every stream_key is JSON by then. */
const SEQ_BY_STREAM_ID = "CREATE INDEX IF NOT EXISTS stream_seq_id ON stream_seq (json_extract(stream_key, '$[1]'))";

// stream_seq has only the joined key: it is split as bytes (SQLite's text functions stop at a NUL, so substr() of the text after it is empty).
const MIGRATE_NUL_KEYS = `
UPDATE outbox SET stream_key = json_array(channel, stream_id) WHERE instr(stream_key, char(0)) > 0;
UPDATE dead_letters SET stream_key = json_array(channel, stream_id) WHERE instr(stream_key, char(0)) > 0;
UPDATE stream_seq SET stream_key = json_array(CAST(substr(CAST(stream_key AS BLOB), 1, instr(CAST(stream_key AS BLOB), x'00') - 1) AS TEXT), CAST(substr(CAST(stream_key AS BLOB), instr(CAST(stream_key AS BLOB), x'00') + 1) AS TEXT)) WHERE instr(stream_key, char(0)) > 0;
`;

/**
 * busyTimeoutMs: how long a write waits for another process's lock; the
 * wait blocks the event loop, so it is a few ms and a busy database is
 * retried from memory instead. maxBytes: the file may not grow past this
 * (0: no limit); a full outbox is like a full disk.
 */
export interface OutboxFileOptions {
  busyTimeoutMs?: number;
  maxBytes?: number;
  driver?: SqliteDatabase['driver'];
}

/**
 * Under `synchronous = NORMAL` the WAL reaches the disk only when it is
 * checkpointed: what a power loss can lose is what was committed since the
 * last checkpoint. SQLite checkpoints inside whichever commit takes the WAL
 * past 1,000 pages (`wal_autocheckpoint`), which under a trickle of events
 * (a commit writes a few pages) could be hours away, with callbacks waiting
 * for an application that is down. The outbox also checkpoints every
 * CHECKPOINT_MS while open (a PASSIVE checkpoint with nothing new to copy
 * syncs nothing), so a power loss loses about the last second at most,
 * whatever the load.
 */
export const CHECKPOINT_MS = 1_000;

/** The outbox's database, opened and brought to the current schema; closed again when that fails (no connection left behind). */
function openOutboxFile(file: string, options: OutboxFileOptions): SqliteDatabase {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const db = openSqlite(file, options.driver ? { driver: options.driver } : {});
  try {
    db.exec(`PRAGMA busy_timeout = ${options.busyTimeoutMs ?? 2}`);
    db.pragma('journal_mode = WAL');
    db.exec('PRAGMA synchronous = NORMAL');
    db.exec(SCHEMA);
    db.exec(MIGRATE_NUL_KEYS);
    db.exec(SEQ_BY_STREAM_ID);
    if (options.maxBytes) {
      const pageSize = Number(db.pragma('page_size'));
      db.pragma(`max_page_count = ${Math.max(1, Math.floor(options.maxBytes / pageSize))}`);
    }
    return db;
  } catch (err) {
    try { db.close(); } catch { /* the error that made us close is the one to report */ }
    throw err;
  }
}

/**
 * Whether an outbox file holds anything to act on at once (callbacks
 * waiting, dead letters, announced streams to close), checked through the
 * same open as an Outbox's (so what cannot hold one fails here) but without
 * reading the rows.
 */
export function outboxFileHasWork(file: string, options: OutboxFileOptions = {}): boolean {
  const db = openOutboxFile(file, options);
  try {
    return ['outbox', 'dead_letters', 'announced'].some((table) => db.prepare(`SELECT 1 AS y FROM ${table} LIMIT 1`).get() !== undefined);
  } finally {
    db.close();
  }
}

/** What the plugin's service says when asked about an outbox that is not open. */
export function outboxNotOpen(): CoordinatorError {
  return new CoordinatorError('ERR_NOT_STARTED', 'the event outbox is not open (the coordinator is not started)');
}

export class Outbox {
  private readonly db: SqliteDatabase;
  private readonly statements;
  /** What goes out next, in memory; told of each change once it is committed. */
  private readonly schedule: StreamSchedule;
  /** Transactions open (nested ones are savepoints) and the rows they added, for the schedule after the commit. */
  private depth = 0;
  private addedInTransaction: OutboxRow[] = [];
  /** The streams of addedInTransaction, with the highest sequence number each took. */
  private readonly addedStreams = new Map<string, number>();
  private closed = false;
  /** Checkpoints the WAL every CHECKPOINT_MS while open (see CHECKPOINT_MS). */
  private readonly checkpointTimer: NodeJS.Timeout;
  /**
   * Delivered rows not yet deleted on disk (deleted in batches), by id.
   * Their streams have moved on in memory; after a crash they are sent
   * again, with their delivery ids, in order (at-least-once). Only what the
   * delete needs is kept, not the rows: a delivered row is garbage at once.
   */
  private readonly pendingIds = new Set<number>();
  /** The highest sequence number among each stream's delivered rows not yet deleted. */
  private readonly pendingSeqs = new Map<string, number>();
  /** The stream-closed rows among them (their streams leave the announced set with the delete). */
  private pendingClosed: Array<Pick<OutboxRow, 'channel' | 'streamId' | 'streamKey'>> = [];
  /** Whether the index of rows by stream (outbox_stream) exists: only while rows may be on disk only (see the top of this file). Set with setIndexed(). */
  private indexed = false;
  private readonly maxCachedRows: number;
  /**
   * Each stream's next sequence number, as far as this process knows (read
   * from disk on a miss). stream_seq on disk is written when rows leave the
   * outbox (deleted or dead-lettered): until then the rows themselves carry
   * their numbers. Bounded; a rolled-back transaction empties it.
   */
  private readonly nextSeqs = new Map<string, number>();
  /** Streams known to be announced on disk (so stream-available need not write it again). Bounded; emptied on a rollback. */
  private readonly announcedKeys = new Set<string>();
  /** Inside appending(): the rows appended so far, inserted at its end. */
  private appended: Appended | undefined;
  /** The inserts of rows, by how many each inserts at once (see insertOf()). */
  private readonly inserts = new Map<number, SqliteStatement>();

  /** maxCachedRows: rows the schedule keeps in memory before the index of rows by stream is needed (see the top of this file). */
  constructor(file: string, options: OutboxFileOptions & { maxCachedRows?: number } = {}) {
    this.db = openOutboxFile(file, options);
    // A failed open leaves no connection behind.
    try {
      const db = this.db;
      this.statements = {
        nextSeq: db.prepare('SELECT next_seq FROM stream_seq WHERE stream_key = ?'),
        deadMaxSeq: db.prepare('SELECT MAX(seq) AS m FROM dead_letters WHERE stream_key = ?'),
        count: db.prepare('SELECT COUNT(*) AS n FROM outbox'),
        allRows: db.prepare('SELECT * FROM outbox ORDER BY id'),
        closingStreams: db.prepare("SELECT DISTINCT stream_key FROM outbox WHERE type = 'stream-closed'"),
        unparkId: db.prepare(`UPDATE outbox SET next_attempt_at = ? WHERE id = ? AND next_attempt_at = ${PARKED}`),
        removeRange: db.prepare('DELETE FROM outbox WHERE id >= ? AND id <= ?'),
        maxSeq: db.prepare('SELECT MAX(seq) AS m FROM (SELECT seq FROM outbox WHERE stream_key = ? UNION ALL SELECT seq FROM dead_letters WHERE stream_key = ?)'),
        setSeq: db.prepare('INSERT INTO stream_seq (stream_key, next_seq) VALUES (?, ?) ON CONFLICT(stream_key) DO UPDATE SET next_seq = excluded.next_seq'),
        insert: this.insertOf(1),
        heads: db.prepare(`SELECT * FROM outbox WHERE next_attempt_at < ${PARKED} ORDER BY next_attempt_at, id LIMIT ?`),
        begin: db.prepare('BEGIN IMMEDIATE'),
        commit: db.prepare('COMMIT'),
        rollback: db.prepare('ROLLBACK'),
        streamRows: db.prepare('SELECT * FROM outbox WHERE stream_key = ? ORDER BY id LIMIT ?'),
        revivedStreams: db.prepare('SELECT DISTINCT stream_key FROM (SELECT stream_key FROM dead_letters ORDER BY id LIMIT ?)'),
        unparkNext: db.prepare(`UPDATE outbox SET next_attempt_at = ? WHERE id = (SELECT MIN(id) FROM outbox WHERE stream_key = ?) AND next_attempt_at = ${PARKED}`),
        parkAll: db.prepare(`UPDATE outbox SET next_attempt_at = ${PARKED} WHERE next_attempt_at < ${PARKED} AND id NOT IN (SELECT MIN(id) FROM outbox GROUP BY stream_key)`),
        unparkHeads: db.prepare(`UPDATE outbox SET next_attempt_at = ? WHERE next_attempt_at = ${PARKED} AND id IN (SELECT MIN(id) FROM outbox GROUP BY stream_key)`),
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
        oldGuards: db.prepare('SELECT stream_id FROM closed_guard WHERE closed_at < ? ORDER BY closed_at LIMIT ?'),
        dropGuard: db.prepare('DELETE FROM closed_guard WHERE stream_id = ?'),
        seqKeysOf: db.prepare("SELECT stream_key FROM stream_seq WHERE json_extract(stream_key, '$[1]') = ?"),
        dropSeq: db.prepare('DELETE FROM stream_seq WHERE stream_key = ?'),
        hasDead: db.prepare('SELECT 1 AS y FROM dead_letters WHERE stream_key = ? LIMIT 1'),
        streamPending: db.prepare(`SELECT COUNT(*) AS n, MAX(attempts) AS attempts, MIN(next_attempt_at) AS next FROM outbox WHERE stream_key = ?`),
        streamError: db.prepare('SELECT last_error FROM outbox WHERE stream_key = ? AND last_error IS NOT NULL ORDER BY id LIMIT 1'),
        streamDead: db.prepare('SELECT COUNT(*) AS n FROM dead_letters WHERE stream_key = ?'),
        revive: db.prepare('INSERT INTO outbox (id, delivery_id, stream_key, channel, stream_id, seq, type, headers, created_at, attempts, next_attempt_at, last_error) SELECT id, delivery_id, stream_key, channel, stream_id, seq, type, headers, ?, 0, ?, last_error FROM dead_letters ORDER BY id LIMIT ?'),
        reviveDelete: db.prepare('DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters ORDER BY id LIMIT ?)'),
        getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
        setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      };
      // Outboxes written before heads were tracked (or changed by hand): one pass at open.
      this.normalizeHeads();
      // Rows read back behind a head are parked on disk; in memory they are due as soon as they become the head.
      const readBack = (raw: RawRow): OutboxRow => {
        const row = fromRaw(raw);
        if (row.nextAttemptAt >= PARKED) row.nextAttemptAt = row.createdAt;
        return row;
      };
      // Read back from disk: rows delivered but not yet deleted are not waiting any more.
      const load = (key: string, limit: number): OutboxRow[] => {
        const rows = (this.statements.streamRows.all(key, limit + this.pendingIds.size) as RawRow[]).filter((raw) => !this.pendingIds.has(raw.id));
        return rows.slice(0, limit).map(readBack);
      };
      this.maxCachedRows = options.maxCachedRows ?? 20_000;
      this.schedule = new StreamSchedule(load, this.maxCachedRows);
      if ((this.statements.count.get() as { n: number }).n <= this.maxCachedRows) {
        // Every row fits in memory: read them all, in order, and keep no index.
        this.db.exec(DROP_STREAM_INDEX);
        this.setIndexed(false);
        for (const raw of this.statements.allRows.all() as RawRow[]) this.schedule.added(readBack(raw));
      } else {
        this.buildIndex();
        for (const raw of this.statements.heads.all(-1) as RawRow[]) this.schedule.addHead(fromRaw(raw));
      }
      this.checkpointTimer = setInterval(() => this.checkpoint(), CHECKPOINT_MS);
      this.checkpointTimer.unref();
    } catch (err) {
      try { this.db.close(); } catch { /* the error that made us close is the one to report */ }
      throw err;
    }
  }

  /** The schedule keeps every row exactly while no index can read a stream's rows back. */
  private setIndexed(indexed: boolean): void {
    this.indexed = indexed;
    this.schedule.keepAll = !indexed;
  }

  /**
   * The rows outgrow memory: build the index that reads a stream's rows back
   * (O(rows) once). False when the database refuses; the schedule then keeps
   * holding every row, past its bound, until a later try succeeds.
   */
  private ensureIndex(): boolean {
    try {
      this.buildIndex();
      return true;
    } catch {
      return false;
    }
  }

  /** As ensureIndex(), throwing what the database said. */
  private buildIndex(): void {
    if (this.indexed) return;
    this.db.exec(CREATE_STREAM_INDEX);
    this.setIndexed(true);
  }

  /** The outbox is empty: the index goes until rows outgrow memory again. */
  private dropIndex(): void {
    try {
      this.db.exec(DROP_STREAM_INDEX);
    } catch {
      return; // kept; dropped the next time the outbox is empty
    }
    this.setIndexed(false);
  }

  /**
   * Run `fn` in one transaction (nested calls join it); the rows it added
   * reach the schedule only once the outermost transaction commits.
   */
  private tx<T>(fn: () => T): T {
    // Inside a transaction a write simply joins it: a failure anywhere rolls the whole one back (no savepoints to pay for).
    if (this.depth > 0) return fn();
    this.depth += 1;
    let result: T;
    try {
      this.statements.begin.run();
      try {
        result = fn();
        // Delivered rows waiting for their delete ride along: one commit for both.
        const deleting = this.pendingIds.size > 0;
        if (deleting) this.writeDeletes();
        this.statements.commit.run();
        if (deleting) {
          this.pendingIds.clear();
          this.pendingSeqs.clear();
          this.pendingClosed = [];
        }
      } catch (err) {
        // Some failures end the transaction themselves (SQLite rolls back on a full disk, for one).
        try { this.statements.rollback.run(); } catch { /* already rolled back */ }
        throw err;
      }
    } catch (err) {
      this.depth -= 1;
      this.addedInTransaction = [];
      this.addedStreams.clear();
      // What the caches learnt inside the transaction may not be on disk: read it again.
      this.nextSeqs.clear();
      this.announcedKeys.clear();
      throw err;
    }
    this.depth -= 1;
    if (this.depth === 0 && this.addedInTransaction.length > 0) {
      const rows = this.addedInTransaction;
      this.addedInTransaction = [];
      this.addedStreams.clear();
      if (!this.indexed && this.schedule.cachedRows + rows.length > this.maxCachedRows) this.ensureIndex();
      for (const row of rows) this.schedule.added(row);
    }
    return result;
  }

  /** Run `fn` in one transaction (several writes, one commit). */
  batch<T>(fn: () => T): T {
    return this.tx(fn);
  }

  /**
   * As batch(), for a `fn` that only appends events (enqueue,
   * announceAndEnqueue, startClose): their rows are inserted together when
   * `fn` returns, up to 16 rows a statement (APPEND_CHUNKS), instead of one
   * statement each (~4,700 fewer instructions per row, ~1 µs here: see
   * docs/ARCHITECTURE.md). The rows they return get their ids then. Nothing
   * inside may read the outbox's rows back: they are not on disk yet.
   */
  appending(fn: () => void): void {
    this.tx(() => {
      const appended: Appended = { rows: [], columns: [] };
      this.appended = appended;
      try {
        fn();
      } finally {
        this.appended = undefined;
      }
      this.insertAppended(appended);
    });
  }

  /** The rows of appending() into the outbox: the largest chunks first, each chunk's ids consecutive (AUTOINCREMENT, nothing else inserting). */
  private insertAppended({ rows, columns }: Appended): void {
    for (let i = 0; i < rows.length;) {
      const left = rows.length - i;
      const n = APPEND_CHUNKS.find((size) => size <= left)!;
      const last = Number(this.insertOf(n).run(...columns.slice(i * INSERT_COLUMNS, (i + n) * INSERT_COLUMNS)).lastInsertRowid);
      for (let k = 0; k < n; k += 1) rows[i + k]!.id = last - n + 1 + k;
      i += n;
    }
  }

  /** The INSERT of `n` rows at once, prepared on first use (1: the single row of enqueue() outside appending()). */
  private insertOf(n: number): SqliteStatement {
    let insert = this.inserts.get(n);
    if (!insert) {
      insert = this.db.prepare(`${INSERT_ROWS} ${Array.from({ length: n }, () => INSERT_VALUES).join(', ')}`);
      this.inserts.set(n, insert);
    }
    return insert;
  }

  /** Park every row behind its stream's head and un-park heads (at open, and after dead letters come back). */
  private normalizeHeads(now = Date.now()): void {
    this.tx(() => {
      this.statements.parkAll.run();
      this.statements.unparkHeads.run(now);
    });
  }

  /** Append an event to its stream's queue, with the next sequence number of that stream. */
  readonly enqueue = (type: CallbackType, channel: string, streamId: string, headers: Record<string, string>, now = Date.now()): OutboxRow => {
    return this.tx(() => this.append(type, streamKeyOf(channel, streamId), channel, streamId, headers, now));
  };

  /** Inside a transaction: the row of enqueue(). */
  private append(type: CallbackType, streamKey: string, channel: string, streamId: string, headers: Record<string, string>, now: number): OutboxRow {
    const seq = this.nextSeqOf(streamKey);
    this.rememberSeq(streamKey, seq + 1);
    const deliveryId = randomUUID();
    // Behind a waiting row of its stream it is parked; otherwise it is its stream's head, due now (the schedule knows, no read).
    const due = this.addedStreams.has(streamKey) || this.schedule.has(streamKey) ? PARKED : now;
    // In memory a row behind the head keeps its creation time: it is due as soon as it becomes the head.
    const row: OutboxRow = { id: 0, deliveryId, streamKey, channel, streamId, seq, type, headers, createdAt: now, attempts: 0, nextAttemptAt: now, lastError: null };
    const appended = this.appended;
    if (appended) {
      appended.rows.push(row);
      appended.columns.push(deliveryId, streamKey, channel, streamId, seq, type, JSON.stringify(headers), now, due);
    } else {
      row.id = Number(this.statements.insert.run(deliveryId, streamKey, channel, streamId, seq, type, JSON.stringify(headers), now, due).lastInsertRowid);
    }
    this.addedInTransaction.push(row);
    this.addedStreams.set(streamKey, seq);
    return row;
  }

  /** The next sequence number of a stream: known in memory, else the higher of stream_seq and the rows still held. */
  private nextSeqOf(streamKey: string): number {
    const known = this.nextSeqs.get(streamKey);
    if (known !== undefined) return known;
    const stored = this.statements.nextSeq.get(streamKey)?.next_seq ?? 1;
    return Math.max(stored, this.highestHeldSeq(streamKey) + 1);
  }

  /** The highest sequence number of a stream's rows still held (waiting, delivered but not yet deleted, dead-lettered); 0 for none. */
  private highestHeldSeq(streamKey: string): number {
    // This transaction's rows count either way (appending() inserts them only at its end).
    const added = this.addedStreams.get(streamKey) ?? 0;
    if (this.indexed) return Math.max((this.statements.maxSeq.get(streamKey, streamKey) as { m: number | null } | undefined)?.m ?? 0, added);
    // No index: every waiting row is in memory (the schedule, this transaction, the deletes not yet written).
    const rows = this.schedule.rowsOf(streamKey);
    const dead = (this.statements.deadMaxSeq.get(streamKey) as { m: number | null } | undefined)?.m ?? 0;
    return Math.max(rows.length > 0 ? rows[rows.length - 1]!.seq : 0, added, this.pendingSeqs.get(streamKey) ?? 0, dead);
  }

  private rememberSeq(streamKey: string, next: number): void {
    if (!this.nextSeqs.has(streamKey) && this.nextSeqs.size >= MAX_CACHED_STREAMS) this.nextSeqs.delete(this.nextSeqs.keys().next().value!);
    this.nextSeqs.set(streamKey, next);
  }

  /** A row of a stream leaves the outbox with no row of its stream left waiting: the stream's next sequence number goes to disk. */
  private persistSeq(streamKey: string, seq: number): void {
    this.statements.setSeq.run(streamKey, Math.max(seq + 1, this.nextSeqs.get(streamKey) ?? 0));
  }

  /** stream-available: announce the stream and queue its event, in one transaction. */
  readonly announceAndEnqueue = (channel: string, streamId: string, headers: Record<string, string>, now = Date.now()): OutboxRow => {
    return this.tx(() => {
      const key = streamKeyOf(channel, streamId);
      if (!this.announcedKeys.has(key)) {
        this.statements.announce.run(channel, streamId, now);
        if (this.announcedKeys.size >= MAX_CACHED_STREAMS) this.announcedKeys.delete(this.announcedKeys.values().next().value!);
        this.announcedKeys.add(key);
      }
      return this.append('stream-available', key, channel, streamId, headers, now);
    });
  };

  /**
   * The next events to send: due heads of streams, at most `slots`, each
   * taken until it is delivered, retried, dead-lettered or released; and when
   * the next head falls due. Decided in memory (see schedule.ts).
   */
  nextBatch(now: number, slots: number): { due: OutboxRow[]; wakeAt: number | undefined } {
    if (slots <= 0) return { due: [], wakeAt: undefined };
    return this.schedule.take(now, slots);
  }

  /** A taken row goes back unchanged (its write failed): it is due again as it was. */
  release(row: OutboxRow): void {
    this.schedule.release(row);
  }

  /** True when no callback waits (known in memory, no query). */
  get empty(): boolean {
    return this.schedule.streams === 0;
  }

  /** Rows held in memory by the schedule. */
  get cachedRows(): number {
    return this.schedule.cachedRows;
  }


  /**
   * Delivered: its stream's next row is the head at once (in memory); the row
   * is deleted on disk with the next flushDelivered().
   */
  markDelivered(row: OutboxRow): void {
    // Pending first: the schedule may read the stream's next rows from disk right away.
    this.pendingIds.add(row.id);
    if ((this.pendingSeqs.get(row.streamKey) ?? 0) < row.seq) this.pendingSeqs.set(row.streamKey, row.seq);
    if (row.type === 'stream-closed') this.pendingClosed.push({ channel: row.channel, streamId: row.streamId, streamKey: row.streamKey });
    this.schedule.removed(row);
  }

  /** Delivered rows waiting to be deleted on disk. */
  get deliveredPending(): number {
    return this.pendingIds.size;
  }

  /** Delete the delivered rows in one transaction; throws (and keeps them for the next try) when the disk refuses. */
  flushDelivered(): void {
    if (this.pendingIds.size === 0) return;
    // The transaction writes the pending deletes (every transaction does; see tx()).
    this.tx(() => undefined);
    // The last rows left: nothing can be on disk only any more.
    if (this.indexed && this.schedule.streams === 0 && this.pendingIds.size === 0) this.dropIndex();
  }

  /** Inside a transaction: the delivered rows leave the outbox. Heads on disk are not kept up here: the next open puts them right (normalizeHeads) before it reads any. */
  private writeDeletes(): void {
    // Runs of consecutive ids go in one statement each (rows are mostly delivered in id order).
    const ids = Array.from(this.pendingIds).sort((a, b) => a - b);
    let first = ids[0]!;
    let last = first;
    for (let i = 1; i < ids.length; i += 1) {
      const id = ids[i]!;
      if (id === last + 1) last = id;
      else if (id !== last) {
        this.statements.removeRange.run(first, last);
        first = last = id;
      }
    }
    this.statements.removeRange.run(first, last);
    for (const row of this.pendingClosed) {
      this.statements.unannounce.run(row.channel, row.streamId);
      this.announcedKeys.delete(row.streamKey);
    }
    // Only streams with no row left waiting: the rows still waiting stay on disk with higher numbers (nextSeqOf reads them), and the last to leave writes its stream's.
    // A row this transaction adds waits too (the schedule learns of it at the commit): most streams of a busy group commit skip the write.
    for (const [key, seq] of this.pendingSeqs) if (!this.schedule.has(key) && !this.addedStreams.has(key)) this.persistSeq(key, seq);
  }

  /** Delivered events removed in one transaction (the deliveries of one event-loop turn). */
  readonly deliveredMany = (rows: OutboxRow[]): void => {
    for (const row of rows) this.markDelivered(row);
    this.flushDelivered();
  };

  /** Not accepted: the row stays its stream's head, due again at `nextAttemptAt`. */
  retryLater(row: OutboxRow, nextAttemptAt: number, error: string): void {
    this.statements.reschedule.run(nextAttemptAt, error, row.id);
    this.schedule.release(row, { nextAttemptAt, error });
  }

  readonly deadLetter = (row: OutboxRow, error: string, now = Date.now()): void => {
    this.tx(() => {
      this.statements.toDead.run(error, now, row.id);
      this.statements.remove.run(row.id);
      if (this.indexed) this.statements.unparkNext.run(now, row.streamKey);
      else {
        // Every row of the stream is in memory: its next one is known.
        const rows = this.schedule.rowsOf(row.streamKey);
        const next = rows[0]?.id === row.id ? rows[1] : rows[0];
        if (next) this.statements.unparkId.run(now, next.id);
      }
      this.persistSeq(row.streamKey, row.seq);
    });
    this.schedule.removed(row);
  };

  stats(now = Date.now()): { depth: number; oldestAgeMs: number; deadLetters: number } {
    const depth = this.statements.depth.get()!;
    return { depth: Math.max(0, depth.n - this.pendingIds.size), oldestAgeMs: depth.oldest === null ? 0 : now - depth.oldest, deadLetters: this.statements.deadCount.get()!.n };
  }

  /** One stream's callbacks: waiting (with the most attempts one has had and its last error) and dead-lettered. */
  streamState(channel: string, streamId: string): { pending: number; attempts: number; nextAttemptAt: number | null; lastError: string | null; deadLetters: number } {
    const key = streamKeyOf(channel, streamId);
    if (!this.indexed) {
      // Every waiting row is in memory.
      const rows = this.schedule.rowsOf(key);
      let attempts = 0;
      let lastError: string | null = null;
      for (const row of rows) {
        if (row.attempts > attempts) attempts = row.attempts;
        lastError ??= row.lastError;
      }
      return { pending: rows.length, attempts, nextAttemptAt: rows[0]?.nextAttemptAt ?? null, lastError, deadLetters: this.statements.streamDead.get(key)!.n };
    }
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
    const streams = (this.statements.revivedStreams.all(limit) as Array<{ stream_key: string }>).map((r) => r.stream_key);
    if (streams.length === 0) return 0;
    // The revived streams are read back from disk (rare: an operator's action): that needs the index.
    this.buildIndex();
    const moved = this.tx(() => {
      const count = Number(this.statements.revive.run(now, now, limit).changes);
      this.statements.reviveDelete.run(limit);
      // A revived row may sit before rows of its stream that were waiting: heads are decided again.
      if (count > 0) this.normalizeHeads(now);
      return count;
    });
    if (moved > 0) this.schedule.reload(streams);
    return moved;
  };

  announce(channel: string, streamId: string, now = Date.now()): void {
    this.statements.announce.run(channel, streamId, now);
  }

  /**
   * Start the stream-closed of an announced stream, once per stream id. Returns
   * false when the stream was never announced or its close already started.
   */
  readonly startClose = (channel: string, streamId: string, headers: Record<string, string>, now = Date.now()): OutboxRow | undefined => {
    return this.tx(() => {
      if (this.statements.isAnnounced.get(channel, streamId)!.n === 0) return undefined;
      if (this.statements.guard.run(streamId, now).changes === 0) return undefined;
      return this.append('stream-closed', streamKeyOf(channel, streamId), channel, streamId, headers, now);
    });
  };

  /** Announced streams that have no stream-closed waiting (to close at boot). */
  announcedWithoutClose(): Array<{ channel: string; streamId: string }> {
    const closing = new Set((this.statements.closingStreams.all() as Array<{ stream_key: string }>).map((r) => r.stream_key));
    return this.statements.announcedAll.all()
      .filter((r) => !closing.has(streamKeyOf(r.channel, r.stream_id)))
      .map((r) => ({ channel: r.channel, streamId: r.stream_id }));
  }

  /**
   * Forget close guards older than `before`, oldest first, at most `limit`
   * (the original never pruned them), and with each the sequence number of
   * its stream: a stream closed that long ago has nothing left to send.
   * A stream that still has rows (waiting, or dead-lettered) keeps its
   * number. Returns how many guards went (`limit`: call again for more).
   */
  pruneGuards(before: number, limit = 1_000): number {
    return this.tx(() => {
      const ids = this.statements.oldGuards.all(before, limit) as Array<{ stream_id: string }>;
      for (const { stream_id: id } of ids) {
        for (const { stream_key: key } of this.statements.seqKeysOf.all(id) as Array<{ stream_key: string }>) {
          if (this.schedule.has(key) || this.pendingSeqs.has(key) || this.addedStreams.has(key) || this.statements.hasDead.get(key)) continue;
          this.statements.dropSeq.run(key);
          this.nextSeqs.delete(key);
        }
        this.statements.dropGuard.run(id);
      }
      return ids.length;
    });
  }

  /** Guard against a stream id at boot (its close is being sent again). */
  clearGuard(streamId: string): void {
    this.statements.dropGuard.run(streamId);
  }

  meta(key: string): string | undefined {
    return this.statements.getMeta.get(key)?.value;
  }

  setMeta(key: string, value: string): void {
    this.statements.setMeta.run(key, value);
  }

  /**
   * Sync the WAL to disk and copy it into the database file (every
   * CHECKPOINT_MS; see there). Nothing new: nothing is synced. A busy or
   * failing disk (or a call inside a transaction) is tried again at the next tick.
   */
  checkpoint(): void {
    if (this.closed) return;
    try {
      this.db.exec('PRAGMA wal_checkpoint(PASSIVE)');
    } catch {
      // tried again at the next tick
    }
  }

  /** Close the database (SQLite checkpoints it as it closes); closing again does nothing (node:sqlite throws on a second close). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.checkpointTimer);
    this.db.close();
  }
}
