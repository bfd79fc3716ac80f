// The delivery loop's slots (delivery.ts), on a real SQLite outbox: a slot
// freed by an answer takes the next due row in the same turn, even when a
// pump is already scheduled for the next turn (one is after every group of
// events). The HTTP leg is a scripted poster (the loop's CallbackPoster
// seam): the test decides when each POST is answered, down to the turn,
// which a socket cannot.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { outboxDelivery, type DeliveryLog, type OutboxDelivery } from '../../plugins/event-callbacks/delivery.js';
import type { CallbackPoster, CallbackRow } from '../../plugins/event-callbacks/post.js';
import type { EventCallbacksOptions, PendingEvent } from '../../plugins/event-callbacks/types.js';
import { STREAM_AVAILABLE } from '../../plugins/shared/stream-events.js';

const quiet: DeliveryLog = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };

const options = (concurrency: number): EventCallbacksOptions => ({
  url: 'http://127.0.0.1:9/events', auth: 'none', user: '', password: '', token: '', custom: '',
  requestTimeoutMs: 10_000, retryDelayMs: 1_000, maxRetryDelayMs: 60_000, deadLetterAfterMs: 3_600_000,
  concurrency, signingSecrets: [], databaseFile: '', importActiveStreamsFile: '', maxDatabaseBytes: 0,
  maxUnstoredEvents: 1_000, deliveryThread: false,
});

const available = (channel: string): PendingEvent => ({
  type: STREAM_AVAILABLE,
  data: { channel, streamId: 's', streamType: 'HLS-LIVE', resolution: '1280x720-30', indexFile: 'live.m3u8' },
});

/** Every queued microtask (and the ones they queue) runs, and nothing else: still the same turn of the event loop. */
async function microtasks(): Promise<void> {
  for (let i = 0; i < 50; i += 1) await Promise.resolve();
}

/** Until `done()`, a turn at a time (bounded). */
async function turnsUntil(done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i += 1) await new Promise<void>((resolve) => setImmediate(resolve));
  assert.ok(done(), 'not reached within 200 turns');
}

describe('outbox delivery: slots', () => {
  let dir: string;
  let delivery: OutboxDelivery | undefined;
  const posts: Array<{ row: CallbackRow; answer(): void }> = [];
  const poster: CallbackPoster = {
    post: (row) => new Promise<void>((resolve) => { posts.push({ row, answer: resolve }); }),
    close: async () => undefined,
  };

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'delivery-slots-'));
    posts.length = 0;
  });
  afterEach(async () => {
    for (const p of posts) p.answer();
    await delivery?.stop();
    delivery = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('a freed slot takes the next due row in the same turn, even with a pump scheduled for the next one', async () => {
    delivery = outboxDelivery({ options: options(2), file: path.join(dir, 'o.sqlite'), log: quiet, debug: false, poster });
    delivery.start();
    await Promise.all(['a', 'b', 'c', 'd'].map((ch) => delivery!.emit(available(ch))));
    await turnsUntil(() => posts.length === 2);
    assert.deepEqual(posts.map((p) => p.row.channel), ['a', 'b']);

    // Storing a group schedules a pump for the next turn; its emit() resolves in the turn that stored it.
    await delivery.emit(available('e'));
    // Both POSTs are answered in that same turn, before the scheduled pump runs.
    posts[0]!.answer();
    posts[1]!.answer();
    await microtasks();
    assert.deepEqual(posts.map((p) => p.row.channel), ['a', 'b', 'c', 'd'], 'the freed slots were refilled at once, not a turn later');

    for (const p of posts.slice(2)) p.answer();
    await turnsUntil(() => posts.length === 5);
    posts[4]!.answer();
    assert.equal(await delivery.idle(5_000), true);
    assert.equal(delivery.stats().delivered, 5);
  });
});
