// The outbox's delivery order and group commit, on a real SQLite file: only
// each stream's head is due (the rows behind it are parked, so the delivery
// loop never walks a backlog), delivering or dead-lettering a head un-parks
// the next one, outboxes from before heads were tracked are put right at open,
// and the events emitted in one event-loop turn are written in one commit that
// the emitters await.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventCallbacks, makeEvent, STREAM_AVAILABLE } from '../../index.js';
import { Outbox, PARKED, streamKeyOf } from '../../plugins/event-callbacks/outbox.js';
import { openSqlite } from '../../plugins/event-callbacks/sqlite.js';
import { makeRuntime } from '../support/runtime.js';

describe('outbox: stream heads and group commit', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), 'outbox-heads-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const names = (rows: Array<{ channel: string; seq: number }>) => rows.map((r) => `${r.channel}#${r.seq}`);

  /** Deliver (and delete) what falls due, `slots` at a time, until nothing does; the names in the order handed out. */
  const deliverAll = (outbox: Outbox, slots: number, afterEach: () => void = () => undefined): string[] => {
    const order: string[] = [];
    for (let round = 0; round < 500; round += 1) {
      const { due } = outbox.nextBatch(Date.now() + 1000, slots);
      if (due.length === 0) break;
      order.push(...names(due));
      outbox.deliveredMany(due);
      afterEach();
    }
    return order;
  };

  it('a delivered head frees its stream at once; its delete is batched, and a crash before it sends the row again, in order, same delivery id', () => {
    const file = path.join(dir, 'o.sqlite');
    const outbox = new Outbox(file, { maxCachedRows: 1 });
    let firstId: string;
    try {
      for (let i = 0; i < 3; i += 1) outbox.enqueue('stream-available', 'a', 'A', {}, 1000 + i);
      const first = outbox.nextBatch(5000, 10).due;
      assert.deepEqual(names(first), ['a#1']);
      firstId = first[0]!.deliveryId;
      outbox.markDelivered(first[0]!);
      // The next row is due before any delete (read back from disk here: one row cached at most), never the delivered one.
      const second = outbox.nextBatch(5000, 10).due;
      assert.deepEqual(names(second), ['a#2']);
      assert.equal(outbox.deliveredPending, 1);
      assert.equal(outbox.stats().depth, 2);
      outbox.markDelivered(second[0]!);
      outbox.flushDelivered();
      assert.equal(outbox.deliveredPending, 0);
      const third = outbox.nextBatch(5000, 10).due;
      assert.deepEqual(names(third), ['a#3']);
      outbox.markDelivered(third[0]!);
      // "Crash": closed without the last delete.
    } finally {
      outbox.close();
    }
    const reopened = new Outbox(file);
    try {
      const again = reopened.nextBatch(Date.now() + 1000, 10).due;
      assert.deepEqual(names(again), ['a#3'], 'the row delivered but not deleted is sent again');
      assert.notEqual(again[0]!.deliveryId, firstId);
      reopened.markDelivered(again[0]!);
      reopened.flushDelivered();
      assert.equal(reopened.stats().depth, 0);
      assert.ok(reopened.empty);
    } finally {
      reopened.close();
    }
  });

  it('only heads are due; delivering or dead-lettering a head makes the next row due', () => {
    const outbox = new Outbox(path.join(dir, 'o.sqlite'));
    try {
      for (let i = 0; i < 3; i += 1) outbox.enqueue('stream-available', 'a', 'A', {}, 1000 + i);
      for (let i = 0; i < 2; i += 1) outbox.enqueue('stream-available', 'b', 'B', {}, 1010 + i);
      let batch = outbox.nextBatch(5000, 10);
      assert.deepEqual(names(batch.due), ['a#1', 'b#1']);
      // A taken head is not handed out again, and never the row behind it.
      assert.deepEqual(names(outbox.nextBatch(5000, 10).due), []);
      outbox.deliveredMany([batch.due[0]!]);
      outbox.deadLetter(batch.due[1]!, 'gone', 2000);
      batch = outbox.nextBatch(5000, 10);
      assert.deepEqual(names(batch.due), ['a#2', 'b#2']);
      // A head retried later waits; its stream's next row stays behind it.
      outbox.retryLater(batch.due[0]!, 9000, 'answered 500');
      outbox.release(batch.due[1]!);
      batch = outbox.nextBatch(5000, 10);
      assert.deepEqual(names(batch.due), ['b#2']);
      assert.equal(batch.wakeAt, 9000);
      assert.equal(outbox.streamState('a', 'A').pending, 2);
      assert.equal(outbox.streamState('a', 'A').nextAttemptAt, 9000);
      // The same order after a restart, read back from disk.
      outbox.close();
      const reopened = new Outbox(path.join(dir, 'o.sqlite'));
      try {
        assert.deepEqual(names(reopened.nextBatch(5000, 10).due), ['b#2']);
        assert.deepEqual(names(reopened.nextBatch(10_000, 10).due), ['a#2']);
      } finally {
        reopened.close();
      }
    } finally {
      outbox.close();
    }
  });

  it('a revived dead letter goes back to its place at the head of its stream', () => {
    const outbox = new Outbox(path.join(dir, 'o.sqlite'));
    try {
      for (let i = 0; i < 3; i += 1) outbox.enqueue('stream-available', 'a', 'A', {}, 1000 + i);
      const [head] = outbox.nextBatch(5000, 1).due;
      outbox.deadLetter(head!, 'refused', 2000);
      const [second] = outbox.nextBatch(5000, 10).due;
      assert.deepEqual(names([second!]), ['a#2']);
      outbox.release(second!);
      assert.equal(outbox.reviveDeadLetters(10, 3000), 1);
      assert.deepEqual(names(outbox.nextBatch(5000, 10).due), ['a#1'], 'the revived row is the head again; a#2 waits behind it');
    } finally {
      outbox.close();
    }
  });

  it('keeps at most maxCachedRows in memory; the rest is read back from disk in order', () => {
    const outbox = new Outbox(path.join(dir, 'o.sqlite'), { maxCachedRows: 10 });
    try {
      outbox.batch(() => {
        for (let i = 0; i < 100; i += 1) outbox.enqueue('stream-available', `s${i % 2}`, 'X', {}, 1000);
      });
      assert.ok(outbox.cachedRows <= 10, `cached ${outbox.cachedRows}`);
      const order = deliverAll(outbox, 4, () => assert.ok(outbox.cachedRows <= 10 + 2, `cached ${outbox.cachedRows} (the bound, plus one head per stream)`));
      for (const stream of ['s0', 's1']) {
        assert.deepEqual(order.filter((n) => n.startsWith(`${stream}#`)), Array.from({ length: 50 }, (_, i) => `${stream}#${i + 1}`));
      }
      assert.equal(outbox.stats().depth, 0);
    } finally {
      outbox.close();
    }
  });

  it('sequence numbers go on after a reopen, whether all of a stream\'s rows left the outbox or some still wait', () => {
    const file = path.join(dir, 'seq.sqlite');
    let outbox = new Outbox(file);
    const deliverHeads = (n: number) => {
      for (let i = 0; i < n; i += 1) for (const row of outbox.nextBatch(Date.now() + 1000, 10).due) outbox.markDelivered(row);
      outbox.flushDelivered();
    };
    try {
      for (let i = 0; i < 3; i += 1) {
        outbox.enqueue('stream-available', 'done', 'D', {});
        outbox.enqueue('stream-available', 'held', 'H', {});
      }
      // Two of each delivered and deleted; 'done' then delivers its third: every row of it has left.
      deliverHeads(2);
      const third = outbox.nextBatch(Date.now() + 1000, 10).due.find((r) => r.channel === 'done')!;
      outbox.markDelivered(third);
      outbox.flushDelivered();
    } finally {
      outbox.close();
    }
    // Another process (a restart) knows only what is on disk.
    outbox = new Outbox(file);
    try {
      assert.equal(outbox.enqueue('stream-available', 'done', 'D', {}).seq, 4, 'a stream whose rows all left goes on from stream_seq');
      assert.equal(outbox.enqueue('stream-available', 'held', 'H', {}).seq, 4, 'a stream with a row still waiting goes on after that row');
      assert.deepEqual(names(outbox.nextBatch(Date.now() + 1000, 10).due).sort(), ['done#4', 'held#3']);
    } finally {
      outbox.close();
    }
  });

  it('a stream key is the JSON array [channel, streamId], whatever the text (the fast path writes what JSON.stringify writes)', () => {
    const text = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: fc.constantFrom('"', '\\', '\u0000', '\u001f', '\ud800', '\udfff', 'a', 'é', '\u2028') }));
    fc.assert(fc.property(text, text, (channel, streamId) => {
      assert.equal(streamKeyOf(channel, streamId), JSON.stringify([channel, streamId]));
    }), { numRuns: 2000 });
  });

  const hasStreamIndex = (file: string): boolean => {
    const raw = openSqlite(file);
    try {
      return raw.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'index' AND name = 'outbox_stream'").get().n === 1;
    } finally {
      raw.close();
    }
  };

  it('keeps no index of rows by stream while every row fits in memory; builds it when they outgrow memory, drops it once empty', () => {
    const file = path.join(dir, 'idx.sqlite');
    let outbox = new Outbox(file, { maxCachedRows: 4 });
    try {
      for (let i = 0; i < 4; i += 1) outbox.enqueue('stream-available', `s${i % 2}`, 'X', {}, 1000 + i);
      assert.equal(hasStreamIndex(file), false, 'four rows fit: no index to keep up on every write');
      // A dead-lettered head: the next row of its stream is found in memory and becomes due on disk too.
      const [head] = outbox.nextBatch(5000, 1).due;
      outbox.deadLetter(head!, 'refused', 2000);
      const raw = openSqlite(file);
      assert.equal(raw.prepare('SELECT next_attempt_at AS t FROM outbox WHERE stream_key = ? ORDER BY id LIMIT 1').get(streamKeyOf('s0', 'X')).t, 2000);
      raw.close();
      assert.equal(outbox.enqueue('stream-available', 's0', 'X', {}, 1010).seq, 3, 'the sequence goes on from the rows in memory');
      outbox.batch(() => {
        for (let i = 0; i < 6; i += 1) outbox.enqueue('stream-available', `s${i % 2}`, 'X', {}, 1020 + i);
      });
      assert.equal(hasStreamIndex(file), true, 'more rows than memory holds: the index reads them back');
      assert.ok(outbox.cachedRows <= 4 + 2, `cached ${outbox.cachedRows}`);
    } finally {
      outbox.close();
    }
    // Reopened with more rows than memory holds: the index stays; each stream is read back in order.
    outbox = new Outbox(file, { maxCachedRows: 4 });
    try {
      assert.equal(hasStreamIndex(file), true);
      const order = deliverAll(outbox, 2);
      assert.deepEqual(order.filter((n) => n.startsWith('s0#')), ['s0#2', 's0#3', 's0#4', 's0#5', 's0#6']);
      assert.deepEqual(order.filter((n) => n.startsWith('s1#')), ['s1#1', 's1#2', 's1#3', 's1#4', 's1#5']);
      assert.ok(outbox.empty);
      assert.equal(hasStreamIndex(file), false, 'empty again: the index is dropped');
      assert.equal(outbox.enqueue('stream-available', 's1', 'X', {}).seq, 6, 'stream_seq carries the sequence of a stream whose rows all left');
    } finally {
      outbox.close();
    }
  });

  it('dead letters revived into an empty outbox keep the index until they are read back and delivered, in order, their stream going on after them', () => {
    const file = path.join(dir, 'revive.sqlite');
    const outbox = new Outbox(file);
    try {
      for (let i = 0; i < 100; i += 1) outbox.enqueue('stream-available', 'a', 'A', {}, 1000 + i);
      for (let i = 0; i < 100; i += 1) outbox.deadLetter(outbox.nextBatch(5000, 1).due[0]!, 'refused', 2000);
      assert.ok(outbox.empty);
      assert.equal(outbox.reviveDeadLetters(1000, 3000), 100);
      // More rows than one read back (64): the rest are on disk only, so the index must stay.
      assert.equal(hasStreamIndex(file), true);
      assert.equal(outbox.enqueue('stream-available', 'a', 'A', {}, 4000).seq, 101);
      const order: number[] = [];
      for (let round = 0; round < 200 && !outbox.empty; round += 1) {
        const { due } = outbox.nextBatch(Date.now() + 10_000, 1);
        order.push(...due.map((r) => r.seq));
        outbox.deliveredMany(due);
      }
      assert.deepEqual(order, Array.from({ length: 101 }, (_, i) => i + 1));
      assert.equal(hasStreamIndex(file), false, 'empty again: dropped');
    } finally {
      outbox.close();
    }
  });

  it('opens an outbox that fits in memory without the index, reads every row, and deletes only the delivered ones', () => {
    const file = path.join(dir, 'fit.sqlite');
    let outbox = new Outbox(file, { maxCachedRows: 2 });
    for (let i = 0; i < 3; i += 1) outbox.enqueue('stream-available', 'a', 'A', {}, 1000 + i);
    assert.equal(hasStreamIndex(file), true);
    outbox.close();
    outbox = new Outbox(file);
    try {
      assert.equal(hasStreamIndex(file), false, 'three rows fit the default bound');
      assert.equal(outbox.cachedRows, 3);
      for (let i = 0; i < 2; i += 1) outbox.enqueue('stream-available', 'b', 'B', {}, 2000 + i);
      // Ids 1-3 are a#1-3, 4-5 are b#1-2: delivered a#1 and b#1 (ids 1 and 4) leave; a#2 and a#3 between them stay.
      const first = outbox.nextBatch(5000, 10).due;
      assert.deepEqual(names(first), ['a#1', 'b#1']);
      outbox.deliveredMany(first);
      const raw = openSqlite(file);
      try {
        assert.deepEqual((raw.prepare('SELECT channel, seq FROM outbox ORDER BY id').all() as Array<{ channel: string; seq: number }>).map((r) => `${r.channel}#${r.seq}`), ['a#2', 'a#3', 'b#2']);
      } finally {
        raw.close();
      }
      assert.equal(outbox.streamState('a', 'A').pending, 2);
      assert.equal(outbox.streamState('b', 'B').pending, 1);
    } finally {
      outbox.close();
    }
  });

  it('an outbox written before heads were tracked is put right when it opens', () => {
    const file = path.join(dir, 'old.sqlite');
    new Outbox(file).close();
    // Rows as an older version wrote them: every row due at its creation time.
    const db = openSqlite(file);
    const insert = db.prepare('INSERT INTO outbox (delivery_id, stream_key, channel, stream_id, seq, type, headers, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    for (let i = 1; i <= 4; i += 1) insert.run(`d${i}`, streamKeyOf('old', 'X'), 'old', 'X', i, 'stream-available', '{}', 100 + i, 100 + i);
    db.close();
    const outbox = new Outbox(file);
    try {
      assert.deepEqual(names(outbox.nextBatch(5000, 10).due), ['old#1']);
      const raw = openSqlite(file);
      assert.equal(raw.prepare(`SELECT COUNT(*) AS n FROM outbox WHERE next_attempt_at = ${PARKED}`).get().n, 3);
      raw.close();
    } finally {
      outbox.close();
    }
  });

  it('events emitted in one turn are written in one commit at its end; each emit resolves once it is on disk', async () => {
    const file = path.join(dir, 'events.sqlite');
    const runtime = makeRuntime({ dataDir: dir }, [eventCallbacks({ databaseFile: file })]);
    await runtime.start();
    const reader = openSqlite(file);
    try {
      const count = () => reader.prepare('SELECT COUNT(*) AS n FROM outbox').get().n as number;
      const emits = Array.from({ length: 100 }, (_, i) => runtime.emit(makeEvent(STREAM_AVAILABLE, { channel: `ch${i % 7}`, streamId: `S${i % 7}`, streamType: 'HLS-LIVE', resolution: '1280x720-30', indexFile: 'i.m3u8' })));
      assert.equal(count(), 0, 'nothing written within the turn');
      await Promise.all(emits);
      // Without EVENT_CALLBACK_URL events count as delivered at once: what the reader sees is written or already gone.
      // Each stream's highest sequence number on disk: on its rows still held, or in stream_seq once they left.
      const rows = reader.prepare('SELECT stream_key AS k, MAX(seq) AS m FROM outbox GROUP BY stream_key').all() as Array<{ k: string; m: number }>;
      const left = reader.prepare('SELECT stream_key AS k, next_seq - 1 AS m FROM stream_seq').all() as Array<{ k: string; m: number }>;
      const highest = new Map<string, number>();
      for (const r of [...rows, ...left]) highest.set(r.k, Math.max(highest.get(r.k) ?? 0, r.m));
      assert.equal([...highest.values()].reduce((a, b) => a + b, 0), 100, 'all 100 events were stored (per-stream sequence numbers)');
    } finally {
      reader.close();
      await runtime.stop();
    }
  });
});
