// What a power loss can lose: under synchronous = NORMAL the WAL reaches the
// disk only when it is checkpointed, and the outbox checkpoints it every
// CHECKPOINT_MS while open, not only when SQLite's page count says so (which,
// under a trickle of events, could be hours away). The database file without
// its WAL stands for what a power loss leaves.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CHECKPOINT_MS, Outbox } from '../../plugins/event-callbacks/outbox.js';
import { openSqlite } from '../../plugins/event-callbacks/sqlite.js';
import { delay } from '../support/runtime.js';

describe('outbox: the WAL is checkpointed on a timer (what a power loss can lose)', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), 'outbox-durability-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** The rows of the database file alone, as a power loss would leave it without the WAL's unsynced tail. */
  function rowsWithoutWal(file: string): number {
    const alone = mkdtempSync(path.join(dir, 'alone-'));
    const copy = path.join(alone, 'copy.sqlite');
    copyFileSync(file, copy);
    const db = openSqlite(copy);
    try {
      return (db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'outbox'").get() as { n: number }).n === 0
        ? 0
        : (db.prepare('SELECT COUNT(*) AS n FROM outbox').get() as { n: number }).n;
    } finally {
      db.close();
    }
  }

  it('a few events stored are in the database file itself within about a second, not only in the WAL', async () => {
    const file = path.join(dir, 'events.sqlite');
    const outbox = new Outbox(file);
    try {
      outbox.batch(() => {
        for (let i = 0; i < 3; i += 1) outbox.enqueue('stream-available', `ch${i}`, 's1', { 'x-streaming-channel': `ch${i}` });
      });
      // Committed: in the WAL only, far below any page count SQLite checkpoints at.
      assert.equal(rowsWithoutWal(file), 0);
      await delay(CHECKPOINT_MS + 500);
      assert.equal(rowsWithoutWal(file), 3);
      // Delivered and deleted: the delete reaches the file the same way.
      const { due } = outbox.nextBatch(Date.now() + 1000, 10);
      assert.equal(due.length, 3);
      outbox.deliveredMany(due);
      await delay(CHECKPOINT_MS + 500);
      assert.equal(rowsWithoutWal(file), 0);
    } finally {
      outbox.close();
    }
  });

  it('a closed outbox checkpoints no more (its timer is gone) and the file holds everything', async () => {
    const file = path.join(dir, 'events.sqlite');
    const outbox = new Outbox(file);
    outbox.enqueue('stream-available', 'ch', 's1', { 'x-streaming-channel': 'ch' });
    outbox.close();
    // Closing checkpoints as SQLite does; a tick after close must not throw or reopen anything.
    outbox.checkpoint();
    assert.equal(rowsWithoutWal(file), 1);
  });
});
