// The outbox's close guards and per-stream sequence numbers do not pile up:
// a stream closed longer ago than the dead-letter age loses its guard and its
// sequence number (in batches, oldest first), unless it still has rows.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Outbox, streamKeyOf } from '../../plugins/event-callbacks/outbox.js';
import { openSqlite } from '../../plugins/event-callbacks/sqlite.js';

describe('outbox: old close guards and sequence numbers are pruned', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), 'outbox-prune-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Announce, close and deliver a stream, at time `at`: its rows leave and its sequence number goes to stream_seq. */
  function finish(outbox: Outbox, channel: string, streamId: string, at: number): void {
    outbox.announceAndEnqueue(channel, streamId, {}, at);
    outbox.startClose(channel, streamId, {}, at);
    for (let i = 0; i < 2; i += 1) {
      const row = outbox.nextBatch(at + 10_000, 100).due.find((r) => r.streamId === streamId)!;
      outbox.markDelivered(row);
      outbox.flushDelivered();
    }
  }

  const onDisk = (file: string) => {
    const db = openSqlite(file);
    try {
      return {
        seqs: (db.prepare('SELECT stream_key AS k FROM stream_seq ORDER BY stream_key').all() as Array<{ k: string }>).map((r) => r.k),
        guards: (db.prepare('SELECT stream_id AS s FROM closed_guard ORDER BY stream_id').all() as Array<{ s: string }>).map((r) => r.s),
      };
    } finally {
      db.close();
    }
  };

  it('drops the guard and the sequence number of streams closed before the cut, oldest first, a batch at a time; keeps the newer ones', () => {
    const file = path.join(dir, 'o.sqlite');
    const outbox = new Outbox(file);
    try {
      for (let i = 0; i < 5; i += 1) finish(outbox, 'ch', `old${i}`, 1_000 + i);
      finish(outbox, 'ch', 'new', 9_000);
      assert.equal(onDisk(file).seqs.length, 6, 'every finished stream left its sequence number');
      assert.equal(outbox.pruneGuards(5_000, 3), 3, 'a full batch');
      assert.deepEqual(onDisk(file).guards, ['new', 'old3', 'old4'], 'the oldest went first');
      assert.equal(outbox.pruneGuards(5_000, 3), 2, 'the rest');
      assert.equal(outbox.pruneGuards(5_000, 3), 0);
      assert.deepEqual(onDisk(file), { seqs: [streamKeyOf('ch', 'new')], guards: ['new'] });
      // A stream whose number went starts again from 1 (its id would have to come back after the dead-letter age).
      assert.equal(outbox.enqueue('stream-available', 'ch', 'old0', {}).seq, 1);
      assert.equal(outbox.enqueue('stream-available', 'ch', 'new', {}).seq, 3, 'a stream kept goes on');
    } finally {
      outbox.close();
    }
  });

  it('a stream with rows still held keeps its sequence number: waiting, or dead-lettered', () => {
    const file = path.join(dir, 'o.sqlite');
    const outbox = new Outbox(file);
    try {
      finish(outbox, 'ch', 'waiting', 1_000);
      finish(outbox, 'ch', 'dead', 1_000);
      // A late event of a closed stream is still waiting; another stream's close was dead-lettered.
      outbox.enqueue('stream-available', 'ch', 'waiting', {}, 2_000);
      outbox.announceAndEnqueue('ch', 'dead2', {}, 1_000);
      outbox.startClose('ch', 'dead2', {}, 1_000);
      const available = outbox.nextBatch(20_000, 100).due.find((r) => r.streamId === 'dead2')!;
      outbox.markDelivered(available);
      outbox.flushDelivered();
      const close = outbox.nextBatch(20_000, 100).due.find((r) => r.streamId === 'dead2')!;
      outbox.deadLetter(close, 'down', 3_000);
      assert.equal(outbox.pruneGuards(5_000), 3);
      const { seqs, guards } = onDisk(file);
      assert.deepEqual(guards, []);
      assert.ok(seqs.includes(streamKeyOf('ch', 'dead2')), 'a dead-lettered stream keeps its number');
      assert.ok(seqs.includes(streamKeyOf('ch', 'waiting')), 'a stream with a row waiting keeps its number');
      assert.ok(!seqs.includes(streamKeyOf('ch', 'dead')), 'a finished stream loses it');
      assert.equal(outbox.enqueue('stream-available', 'ch', 'waiting', {}).seq, 4, 'the waiting stream goes on after its waiting row');
      assert.equal(outbox.enqueue('stream-available', 'ch', 'dead2', {}).seq, 3, 'the dead-lettered stream goes on after its dead letter');
    } finally {
      outbox.close();
    }
  });

  it('opens a file from before (stream keys joined with NUL, no index by stream id): the keys are rewritten, then pruned like any', () => {
    const file = path.join(dir, 'o.sqlite');
    const db = openSqlite(file);
    db.exec('CREATE TABLE stream_seq (stream_key TEXT PRIMARY KEY, next_seq INTEGER NOT NULL); CREATE TABLE closed_guard (stream_id TEXT PRIMARY KEY, closed_at INTEGER NOT NULL)');
    db.prepare('INSERT INTO stream_seq VALUES (?, ?)').run('ch\u0000legacy', 7);
    db.prepare('INSERT INTO closed_guard VALUES (?, ?)').run('legacy', 1_000);
    db.close();
    const outbox = new Outbox(file);
    try {
      assert.deepEqual(onDisk(file).seqs, [streamKeyOf('ch', 'legacy')]);
      assert.equal(outbox.pruneGuards(5_000), 1);
      assert.deepEqual(onDisk(file), { seqs: [], guards: [] });
    } finally {
      outbox.close();
    }
  });
});
