// The outbox against a model, for any sequence of enqueues, deliveries
// (deleted at once or later), retries, dead letters, revivals and reopens,
// with a small memory bound so that the index of rows by stream comes and
// goes (outbox.ts keeps it only while rows may be on disk only). What must
// hold whatever the sequence:
// - a stream's sequence numbers only go up, across dead letters and reopens;
// - what is handed out for a stream is always its lowest waiting row;
// - nothing is lost: after the run every row is delivered (dead letters
//   revived), rows delivered but not deleted before a reopen being sent again
//   (every transaction writes the deletes waiting: a flush, a group of
//   events, a dead letter, a revival);
// - without the index every waiting row is in memory.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { Outbox, type OutboxRow } from '../../plugins/event-callbacks/outbox.js';
import { openSqlite } from '../../plugins/event-callbacks/sqlite.js';

type Op =
  | { kind: 'enqueue'; stream: number; count: number; mixed: boolean; appending: boolean }
  | { kind: 'deliver'; slots: number; flush: boolean }
  | { kind: 'retry' }
  | { kind: 'dead'; all: boolean }
  | { kind: 'flush' }
  | { kind: 'revive'; limit: number }
  | { kind: 'reopen' };

const STREAMS = ['a', 'b'];
const MAX_CACHED = 3;

describe('outbox against a model', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), 'outbox-model-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps order, sequence numbers and every event, whatever the sequence of operations and however the index comes and goes', function () {
    this.timeout(60_000);
    const op: fc.Arbitrary<Op> = fc.oneof(
      // A group of events: of one stream or of both in turn; with batch() (a statement a row) or appending() (rows inserted together at the end, in chunks of 16, 4 and 1).
      { weight: 5, arbitrary: fc.record({ kind: fc.constant('enqueue' as const), stream: fc.integer({ min: 0, max: STREAMS.length - 1 }), count: fc.integer({ min: 1, max: 24 }), mixed: fc.boolean(), appending: fc.boolean() }) },
      { weight: 5, arbitrary: fc.record({ kind: fc.constant('deliver' as const), slots: fc.integer({ min: 1, max: 4 }), flush: fc.boolean() }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'retry' as const }) },
      // One head, or every row (an application refusing everything for a while).
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('dead' as const), all: fc.boolean() }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'flush' as const }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('revive' as const), limit: fc.integer({ min: 1, max: 20 }) }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
    );
    let run = 0;
    fc.assert(fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      run += 1;
      const file = path.join(dir, `m${run}.sqlite`);
      let outbox = new Outbox(file, { maxCachedRows: MAX_CACHED });
      // The model: per stream, the highest sequence number given, the rows waiting (by seq), dead and delivered.
      const highest = new Map<string, number>();
      const waiting = new Map<string, Set<number>>(STREAMS.map((s) => [s, new Set<number>()]));
      const dead = new Map<string, Set<number>>(STREAMS.map((s) => [s, new Set<number>()]));
      const undeleted: OutboxRow[] = [];
      const delivered = new Map<string, Set<number>>(STREAMS.map((s) => [s, new Set<number>()]));
      // Real time: a reopen makes heads due at the time it opens.
      let clock = Date.now();

      const lowestWaiting = (stream: string) => Math.min(...waiting.get(stream)!);
      const take = (slots: number): OutboxRow[] => {
        const { due } = outbox.nextBatch(clock, slots);
        for (const row of due) assert.equal(row.seq, lowestWaiting(row.channel), `${row.channel}#${row.seq} handed out before a lower waiting row`);
        return due;
      };
      const deliver = (row: OutboxRow) => {
        outbox.markDelivered(row);
        waiting.get(row.channel)!.delete(row.seq);
        delivered.get(row.channel)!.add(row.seq);
        undeleted.push(row);
      };
      const flush = () => {
        outbox.flushDelivered();
        undeleted.length = 0;
      };
      const check = () => {
        const total = [...waiting.values()].reduce((n, s) => n + s.size, 0);
        const raw = openSqlite(file);
        try {
          const indexed = raw.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'index' AND name = 'outbox_stream'").get().n === 1;
          if (!indexed) assert.equal(outbox.cachedRows, total, 'without the index every waiting row is in memory');
        } finally {
          raw.close();
        }
        assert.equal(outbox.empty, total === 0);
      };

      try {
        for (const o of ops) {
          clock += 10;
          if (o.kind === 'enqueue') {
            const rows: OutboxRow[] = [];
            const group = () => {
              for (let i = 0; i < o.count; i += 1) {
                const stream = STREAMS[o.mixed ? (o.stream + i) % STREAMS.length : o.stream]!;
                const row = outbox.enqueue('stream-available', stream, 'S', { 'x-n': String(i) }, clock);
                assert.ok(row.seq > (highest.get(stream) ?? 0), `${stream}: seq ${row.seq} after ${highest.get(stream)}`);
                highest.set(stream, row.seq);
                waiting.get(stream)!.add(row.seq);
                rows.push(row);
              }
            };
            if (o.appending) outbox.appending(group);
            else outbox.batch(group);
            undeleted.length = 0;
            // Each row returned carries the id it has on disk, in the order appended.
            const raw = openSqlite(file);
            try {
              const onDisk = new Map((raw.prepare('SELECT id, delivery_id, seq, headers FROM outbox').all() as Array<{ id: number; delivery_id: string; seq: number; headers: string }>).map((r) => [r.id, r]));
              rows.forEach((row, i) => {
                assert.ok(i === 0 || row.id > rows[i - 1]!.id, `ids in the order appended: ${rows.map((r) => r.id).join(',')}`);
                assert.deepEqual({ ...onDisk.get(row.id) }, { id: row.id, delivery_id: row.deliveryId, seq: row.seq, headers: JSON.stringify({ 'x-n': String(i) }) });
              });
            } finally {
              raw.close();
            }
          } else if (o.kind === 'deliver') {
            for (const row of take(o.slots)) deliver(row);
            if (o.flush) flush();
          } else if (o.kind === 'retry') {
            for (const row of take(1)) outbox.retryLater(row, clock + 5, 'answered 500');
          } else if (o.kind === 'dead') {
            for (let rounds = 0; rounds < (o.all ? 100 : 1); rounds += 1) {
              const rows = take(o.all ? 4 : 1);
              if (rows.length === 0) break;
              for (const row of rows) {
                outbox.deadLetter(row, 'refused', clock);
                waiting.get(row.channel)!.delete(row.seq);
                dead.get(row.channel)!.add(row.seq);
                undeleted.length = 0;
              }
            }
          } else if (o.kind === 'flush') {
            flush();
          } else if (o.kind === 'revive') {
            // Oldest first: the dead rows of lowest id, which for one stream are its lowest seqs.
            const moved = outbox.reviveDeadLetters(o.limit, clock);
            const all = [...dead].flatMap(([s, seqs]) => [...seqs].map((seq) => ({ s, seq })));
            assert.equal(moved, Math.min(o.limit, all.length));
            if (all.length > 0) undeleted.length = 0;
            // Which ones came back is read from the outbox itself: they are waiting again.
            const stillDead = new Map(STREAMS.map((s) => [s, new Set<number>()]));
            const raw = openSqlite(file);
            try {
              for (const r of raw.prepare('SELECT channel, seq FROM dead_letters').all() as Array<{ channel: string; seq: number }>) stillDead.get(r.channel)!.add(r.seq);
            } finally {
              raw.close();
            }
            for (const { s, seq } of all) if (!stillDead.get(s)!.has(seq)) { dead.get(s)!.delete(seq); waiting.get(s)!.add(seq); }
          } else {
            outbox.close();
            // Delivered but not deleted: sent again after the reopen.
            for (const row of undeleted) waiting.get(row.channel)!.add(row.seq);
            undeleted.length = 0;
            outbox = new Outbox(file, { maxCachedRows: MAX_CACHED });
          }
          check();
        }
        // Nothing is lost: revive what is dead, deliver everything.
        outbox.reviveDeadLetters(10_000, clock);
        for (const [s, seqs] of dead) for (const seq of seqs) waiting.get(s)!.add(seq);
        for (let round = 0; round < 1_000 && !outbox.empty; round += 1) {
          clock += 1_000;
          const rows = take(4);
          for (const row of rows) deliver(row);
          flush();
        }
        assert.ok(outbox.empty, 'drained');
        for (const s of STREAMS) {
          assert.equal(waiting.get(s)!.size, 0);
          assert.deepEqual([...delivered.get(s)!].sort((x, y) => x - y), Array.from({ length: highest.get(s) ?? 0 }, (_, i) => i + 1), `${s}: every seq delivered`);
        }
        assert.equal(outbox.stats().depth, 0);
      } finally {
        outbox.close();
      }
    }), { numRuns: 300 });
  });
});
