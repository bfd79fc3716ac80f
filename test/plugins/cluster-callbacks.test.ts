// Callbacks on a cluster of coordinators: the queue is the cluster's event log
// in a real nats-server's JetStream. Events emitted on any node reach the
// application once each, in order per stream; the guard (stream-closed once,
// only after stream-available) holds across nodes; when the delivering node
// leaves, another takes over from where it had got to, nothing lost; dead
// letters come back with their delivery id and sequence number.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cluster, eventCallbacks } from '../../index.js';
import { makeEvent } from '../../core/events.js';
import type { Coordinator } from '../../core/runtime.js';
import { STREAM_AVAILABLE, STREAM_CLOSED } from '../../plugins/shared/stream-events.js';
import { makeRuntime, until, delay } from '../support/runtime.js';
import { hookServer, type HookServer, type Answer, type Received } from '../support/http.js';
import { startNatsServer, type NatsServer } from '../support/nats.js';

describe('callbacks on a cluster (nats engine: the event log in JetStream)', function () {
  this.timeout(40_000);
  let nats: NatsServer;
  let app: HookServer;
  let answer: (r: Received) => Answer;
  let dir: string;
  const runtimes: Coordinator[] = [];
  let prefixSeq = 0;
  let prefix: string;

  before(async () => { nats = await startNatsServer(); });
  after(async () => { await nats.stop(); });
  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cluster-callbacks-'));
    answer = () => ({ body: '' });
    app = await hookServer((r) => answer(r));
    prefix = `cb${++prefixSeq}`;
  });
  afterEach(async () => {
    for (const r of runtimes.splice(0)) await r.stop().catch(() => undefined);
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function node(id: string, options: Record<string, unknown> = {}): Promise<Coordinator> {
    const runtime = makeRuntime({ dataDir: path.join(dir, id) }, [
      cluster({ engine: 'nats', servers: [nats.url], nodeId: id, prefix, heartbeatMs: 100, deadAfterMs: 800 }),
      eventCallbacks({ retryDelayMs: 20, maxRetryDelayMs: 100, ...options }),
    ], { EVENT_CALLBACK_URL: app.url('/events') });
    runtimes.push(runtime);
    await runtime.start();
    return runtime;
  }

  const available = (channel: string, streamId: string, resolution = '720p') => makeEvent(STREAM_AVAILABLE, { channel, streamId, streamType: 'HLS', resolution, indexFile: 'index.m3u8' });
  const closed = (channel: string, streamId: string) => makeEvent(STREAM_CLOSED, { channel, streamId });
  const summary = (r: Received) => `${r.headers['x-streaming-id']}:${r.headers['x-event-sequence']}:${r.headers['x-event-type']}:${r.headers['x-resolution'] ?? ''}`;

  it('events from any node reach the application in order per stream, once, with the guard across nodes', async () => {
    const a = await node('a');
    const b = await node('b');
    // No file: the queue is JetStream, not a local outbox.
    await a.emit(available('ch1', 'S1', '720p'));
    await b.emit(available('ch1', 'S1', '480p'));
    await a.emit(closed('ch1', 'S1'));
    await b.emit(closed('ch1', 'S1')); // a second close, from another node: refused by the guard
    await b.emit(closed('ch2', 'S2')); // never announced: refused
    await b.emit(available('ch3', 'S3'));
    await until(() => app.received.length >= 4, 10_000);
    await delay(300);
    // Ordered per stream (the promise), not across streams: S3's event may overtake S1's later ones.
    const ofStream = (id: string) => app.received.filter((r) => r.headers['x-streaming-id'] === id).map(summary);
    assert.deepEqual(ofStream('S1'), ['S1:1:stream-available:720p', 'S1:2:stream-available:480p', 'S1:3:stream-closed:']);
    assert.deepEqual(ofStream('S3'), ['S3:1:stream-available:720p']);
    assert.equal(app.received.length, 4, 'nothing else: the second close and the never-announced stream were refused');
    assert.equal(new Set(app.received.map((r) => r.headers['x-delivery-id'])).size, 4);
    const deliverers = new Set([a, b].map((r) => r.service('event-callbacks').stats().delivered));
    assert.ok([...deliverers].includes(4), 'one node delivered them all');
  });

  it('concurrent closes of one stream from several nodes: exactly one stream-closed', async () => {
    const nodes = [await node('a'), await node('b'), await node('c')];
    for (let i = 0; i < 10; i += 1) await nodes[i % 3]!.emit(available(`c${i}`, `X${i}`));
    await Promise.all(nodes.flatMap((n) => Array.from({ length: 10 }, (_, i) => n.emit(closed(`c${i}`, `X${i}`)))));
    await until(() => app.received.length >= 20, 15_000);
    await delay(300);
    const closes = app.received.filter((r) => r.headers['x-event-type'] === 'stream-closed');
    assert.equal(closes.length, 10);
    assert.equal(new Set(closes.map((r) => r.headers['x-streaming-id'])).size, 10);
    for (const r of closes) assert.equal(r.headers['x-event-sequence'], '2');
  });

  it('the delivering node leaves while the application is failing: another node delivers everything, in order', async () => {
    answer = () => ({ status: 503, body: 'down' });
    const a = await node('a');
    const b = await node('b');
    for (let i = 0; i < 5; i += 1) {
      await a.emit(available('f', 'F1', `r${i}`));
      await b.emit(available('g', 'G1', `r${i}`));
    }
    await until(() => app.received.length >= 2, 5000);
    const first = [a, b].find((r) => r.service('event-callbacks').stats().retries > 0)!;
    const other = first === a ? b : a;
    await first.stop();
    answer = () => ({ body: '' });
    await until(() => other.service('event-callbacks').stats().delivered >= 10, 15_000);
    const accepted = (stream: string) => app.received.filter((r) => r.headers['x-streaming-id'] === stream).map((r) => r.headers['x-event-sequence']);
    // Refused attempts came first; each stream's sequence numbers rise without a gap once accepted.
    for (const stream of ['F1', 'G1']) {
      const seqs = accepted(stream).map(Number);
      const lastFive = seqs.slice(-5);
      assert.deepEqual(lastFive, [1, 2, 3, 4, 5], `${stream}: ${seqs.join(',')}`);
    }
  });

  it('dead letters wait, counted, and come back with their delivery id and sequence number', async () => {
    answer = () => ({ status: 500, body: 'no' });
    const a = await node('a', { deadLetterAfterMs: 1 });
    await a.emit(available('d', 'D1'));
    await until(() => a.service('event-callbacks').stats().deadLetters === 1, 10_000);
    const firstId = app.received[0]!.headers['x-delivery-id'];
    answer = () => ({ body: '' });
    const before = app.received.length;
    assert.equal(await a.service('event-callbacks').retryDeadLetters(), 1);
    await until(() => app.received.length > before, 5000);
    const again = app.received.at(-1)!;
    assert.equal(again.headers['x-delivery-id'], firstId);
    assert.equal(again.headers['x-event-sequence'], '1');
  });
});
