// Issue 10, items 5 and 6: a full or locked outbox loses no event and never
// blocks the event loop; a header value HTTP cannot carry never blocks its stream.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventCallbacks, makeEvent, type EventCallbacksService } from '../../index.js';
import type { Coordinator } from '../../core/runtime.js';
import { makeRuntime, delay, until } from '../support/runtime.js';
import { openSqlite } from '../../plugins/event-callbacks/sqlite.js';
import { hookServer, type HookServer, type Answer, type Received } from '../support/http.js';

const available = (channel: string, streamId: string, resolution = '1280x720-30') =>
  makeEvent('stream.available', { channel, streamId, streamType: 'HLS-LIVE', resolution, indexFile: `hls/${channel}/${streamId}/${'x'.repeat(200)}/live.m3u8` });
const closed = (channel: string, streamId: string) => makeEvent('stream.closed', { channel, streamId });


// The same whether the outbox runs on the event loop or on the delivery thread.
for (const deliveryThread of [false, true]) describe(`hardening: no fault loses an event (${deliveryThread ? 'on the delivery thread' : 'on the event loop'})`, function () {
  this.timeout(60_000);
  let app: HookServer;
  let dataDir: string;
  let runtime: Coordinator;
  let answer: (r: Received) => Answer;

  async function start(options: Record<string, unknown> = {}): Promise<void> {
    runtime = makeRuntime({ dataDir }, [eventCallbacks({ retryDelayMs: 20, maxRetryDelayMs: 100, deliveryThread, ...options })], { EVENT_CALLBACK_URL: app.url('/events') });
    await runtime.start();
  }
  const service = () => runtime.service('event-callbacks');
  const sequenceOf = (channel: string) => app.received
    .filter((r) => r.headers['x-streaming-channel'] === channel && r.headers['x-event-type'] === 'stream-available')
    .map((r) => r.headers['x-streaming-id']);

  beforeEach(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'coord-durable-'));
    answer = () => ({ body: 'ok' });
    app = await hookServer((r) => answer(r));
  });
  afterEach(async () => {
    await runtime?.stop();
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('5. a full outbox: events wait in memory (counted, not ready), are written when space frees, none lost, order kept, no crash', async () => {
    // The application is down, so rows pile up until the outbox file is full.
    answer = () => ({ status: 503, body: 'down' });
    await start({ maxDatabaseBytes: 96 * 1024 });
    const total = 400;
    const streams = 8;
    for (let i = 0; i < total; i += 1) await runtime.emit(available(`ch${i % 4}`, `s${i % streams}`));
    const stats = service().stats();
    assert.ok(stats.unstored > 0, 'the small outbox never filled: the test proves nothing');
    assert.ok(stats.storeFailures > 0);
    assert.equal(stats.lost, 0);
    assert.equal(runtime.readiness().ready, false, 'not ready while events wait in memory');
    assert.equal(runtime.readiness().checks['event-callbacks'], false);
    // The application comes back: deliveries free space, the waiting events are written and sent.
    answer = () => ({ body: 'ok' });
    const delivered = () => new Set(app.received.filter((r) => r.headers['x-delivery-id']).map((r) => `${r.headers['x-streaming-id']}#${r.headers['x-event-sequence']}`));
    await until(() => delivered().size === total && service().stats().depth === 0 && service().stats().unstored === 0, 30_000);
    assert.equal(runtime.readiness().ready, true);
    // Every stream's events arrived in order: its sequence numbers 1..n, each after the one before
    // (a retried delivery may repeat the last one, with the same delivery id).
    for (let n = 0; n < streams; n += 1) {
      const seqs = app.received.filter((r) => r.headers['x-streaming-id'] === `s${n}`).map((r) => Number(r.headers['x-event-sequence']));
      const firsts = seqs.filter((q, i) => seqs.indexOf(q) === i);
      assert.deepEqual(firsts, Array.from({ length: total / streams }, (_, i) => i + 1), `stream s${n}`);
    }
  });

  it('5. a database locked by another process never blocks the event loop; the events are written once the lock is gone', async () => {
    await start();
    const file = path.join(dataDir, 'events.sqlite');
    // Another process's connection (any driver): it takes the write lock and holds it.
    const other = openSqlite(file);
    other.exec('BEGIN IMMEDIATE');
    try {
      const started = Date.now();
      let ticks = 0;
      const ticker = setInterval(() => { ticks += 1; }, 5);
      for (let i = 0; i < 20; i += 1) await runtime.emit(available('locked', `L${String(i).padStart(2, '0')}`));
      await delay(100);
      clearInterval(ticker);
      const elapsed = Date.now() - started;
      assert.ok(elapsed < 1500, `20 events under a lock took ${elapsed} ms (the event loop was blocked)`);
      assert.ok(ticks > 5, 'timers did not run while the database was locked');
      assert.equal(service().stats().unstored, 20);
      assert.equal(runtime.readiness().ready, false);
    } finally {
      other.exec('COMMIT');
      other.close();
    }
    await until(() => sequenceOf('locked').length === 20);
    assert.deepEqual(sequenceOf('locked').sort(), Array.from({ length: 20 }, (_, i) => `L${String(i).padStart(2, '0')}`));
    assert.equal(service().stats().unstored, 0);
    assert.equal(runtime.readiness().ready, true);
  });

  it('6. a value beyond Latin-1 goes out as its UTF-8 bytes; the stream\'s later events are not blocked', async () => {
    await start();
    await runtime.emit(available('tm', 'TM1', '1280x720-30™'));
    await runtime.emit(closed('tm', 'TM1'));
    assert.ok(await service().idle(5000), 'the stream queue is blocked');
    const [first, second] = app.received;
    // Node reads header bytes as Latin-1: turn them back into the UTF-8 the coordinator sent.
    assert.equal(Buffer.from(String(first!.headers['x-resolution']), 'latin1').toString('utf8'), '1280x720-30™');
    assert.equal(second!.headers['x-event-type'], 'stream-closed');
    assert.equal(service().stats().deadLetters, 0);
  });
});
