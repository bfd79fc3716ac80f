import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventCallbacks, makeEvent, verifySignature, type EventCallbacksService } from '../../index.js';
import type { Coordinator } from '../../core/runtime.js';
import { makeRuntime, delay, until } from '../support/runtime.js';
import { hookServer, type HookServer, type Answer, type Received } from '../support/http.js';
import { startChild, tsNode } from '../support/processes.js';
import { killDeliveryThread } from '../../plugins/event-callbacks/delivery-thread.js';

const available = (channel: string, streamId: string, extra: Record<string, string> = {}) =>
  makeEvent('stream.available', { channel, streamId, streamType: 'HLS-LIVE', resolution: '1280x720-30', indexFile: `hls/${channel}/${streamId}/1280x720-30/live.m3u8`, ...extra });
const closed = (channel: string, streamId: string) => makeEvent('stream.closed', { channel, streamId });


// The same behaviour whether the outbox runs on the event loop or on the delivery thread.
for (const deliveryThread of [false, true]) describe(`event callbacks against a real local application (${deliveryThread ? 'on the delivery thread' : 'on the event loop'})`, function () {
  this.timeout(60_000);
  let app: HookServer;
  let dataDir: string;
  let runtime: Coordinator;
  let answer: (r: Received) => Answer;

  async function start(env: Record<string, string> = {}, options: Record<string, unknown> = {}): Promise<void> {
    runtime = makeRuntime({ dataDir }, [eventCallbacks({ retryDelayMs: 20, maxRetryDelayMs: 80, deliveryThread, ...options })], { EVENT_CALLBACK_URL: app.url('/events'), ...env });
    await runtime.start();
  }
  const service = () => runtime.service('event-callbacks');

  beforeEach(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'coord-events-'));
    answer = () => ({ body: 'ok' });
    app = await hookServer((r) => answer(r));
  });
  afterEach(async () => {
    await runtime?.stop();
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('stream-available carries the original headers, an empty body, a delivery id and a sequence', async () => {
    await start({ EVENT_CALLBACK_AUTH: 'Basic', EVENT_CALLBACK_AUTH_USER: 'a', EVENT_CALLBACK_PASSWORD: 'b' });
    await runtime.emit(available('ch1', 'ID1'));
    await runtime.emit(available('ch1', 'ID1', { streamType: 'HLS-VOD', indexFile: 'hls/ch1/ID1/vod-0.m3u8', startTime: '12.5' }));
    assert.ok(await service().idle(5000));
    const [first, second] = app.received;
    assert.equal(first!.method, 'POST');
    assert.equal(first!.body, '');
    assert.equal(first!.headers['x-event-type'], 'stream-available');
    assert.equal(first!.headers['x-streaming-channel'], 'ch1');
    assert.equal(first!.headers['x-streaming-id'], 'ID1');
    assert.equal(first!.headers['x-stream-type'], 'HLS-LIVE');
    assert.equal(first!.headers['x-resolution'], '1280x720-30');
    assert.equal(first!.headers['x-index-file'], 'hls/ch1/ID1/1280x720-30/live.m3u8');
    assert.equal(first!.headers['x-start-time'], undefined);
    assert.equal(first!.headers.authorization, 'Basic YTpi');
    assert.match(String(first!.headers['x-delivery-id']), /^[0-9a-f-]{36}$/);
    assert.equal(first!.headers['x-event-sequence'], '1');
    assert.equal(second!.headers['x-start-time'], '12.5');
    assert.equal(second!.headers['x-event-sequence'], '2');
  });

  for (const [env, expected] of [
    [{ EVENT_CALLBACK_AUTH: 'bearer', EVENT_CALLBACK_AUTH_TOKEN: 'tok' }, 'Bearer tok'],
    [{ EVENT_CALLBACK_AUTH: 'Custom', EVENT_CALLBACK_AUTH_CUSTOM: 'Key xyz' }, 'Key xyz'],
  ] as const) {
    it(`Authorization for ${env.EVENT_CALLBACK_AUTH}: ${expected}`, async () => {
      await start(env);
      await runtime.emit(available('c', 's'));
      assert.ok(await service().idle(5000));
      assert.equal(app.received[0]!.headers.authorization, expected);
    });
  }

  it('retries while the application answers 500 (and 201), delivers once it answers 200, same delivery id', async () => {
    const statuses = [500, 201, 500];
    answer = () => ({ status: statuses.shift() ?? 200, body: '' });
    await start();
    await runtime.emit(available('ch1', 'ID1'));
    assert.ok(await service().idle(10_000));
    assert.equal(app.received.length, 4);
    assert.equal(new Set(app.received.map((r) => r.headers['x-delivery-id'])).size, 1);
    assert.equal(service().stats().retries, 3);
    assert.equal(service().stats().delivered, 1);
  });

  it('keeps order per stream under retries; other streams are not blocked', async () => {
    let failuresForA = 3;
    answer = (r) => (r.headers['x-streaming-channel'] === 'A' && failuresForA-- > 0 ? { status: 500, body: '' } : { body: '' });
    await start();
    await runtime.emit(available('A', 'a1'));
    await runtime.emit(closed('A', 'a1'));
    await runtime.emit(available('B', 'b1'));
    await runtime.emit(closed('B', 'b1'));
    assert.ok(await service().idle(10_000));
    const accepted = (channel: string) => app.received.filter((r) => r.headers['x-streaming-channel'] === channel).map((r) => r.headers['x-event-type']);
    assert.deepEqual(accepted('A'), ['stream-available', 'stream-available', 'stream-available', 'stream-available', 'stream-closed']);
    assert.deepEqual(accepted('B'), ['stream-available', 'stream-closed']);
    const firstB = app.received.findIndex((r) => r.headers['x-streaming-channel'] === 'B');
    const lastA = app.received.map((r) => r.headers['x-streaming-channel']).lastIndexOf('A');
    assert.ok(firstB < lastA, 'B was delivered while A was still being retried');
  });

  it('stream-closed only for announced streams, and once per stream', async () => {
    await start();
    await runtime.emit(closed('ch1', 'never'));
    await runtime.emit(available('ch1', 'ID1'));
    await runtime.emit(closed('ch1', 'ID1'));
    await runtime.emit(closed('ch1', 'ID1'));
    assert.ok(await service().idle(5000));
    assert.deepEqual(app.received.map((r) => `${r.headers['x-event-type']}:${r.headers['x-streaming-id']}`), ['stream-available:ID1', 'stream-closed:ID1']);
    const closedCall = app.received[1]!;
    assert.equal(closedCall.headers['x-stream-type'], undefined);
    assert.equal(closedCall.headers['x-index-file'], undefined);
  });

  it('without EVENT_CALLBACK_URL nothing is sent and nothing stays announced', async () => {
    await start({ EVENT_CALLBACK_URL: '' });
    await runtime.emit(available('ch1', 'ID1'));
    await runtime.emit(closed('ch1', 'ID1'));
    assert.ok(await service().idle(5000));
    assert.equal(app.received.length, 0);
    await runtime.stop();
    await start();
    await delay(200);
    assert.equal(app.received.length, 0, 'no stream-closed at boot: the stream was closed');
  });

  it('moves an event to the dead letters after the configured age, counted', async () => {
    answer = () => ({ status: 500, body: '' });
    await start({}, { deadLetterAfterMs: 150 });
    await runtime.emit(available('ch1', 'ID1'));
    assert.ok(await service().idle(10_000));
    const stats = service().stats();
    assert.equal(stats.deadLetters, 1);
    assert.equal(stats.depth, 0);
    assert.ok(app.received.length >= 2);
  });

  it('signs callbacks; the signature verifies with either secret and a tampered body fails', async () => {
    const secrets = ['first-secret-0123456789', 'second-secret-012345678'];
    await start({}, { signingSecrets: secrets });
    await runtime.emit(available('ch1', 'ID1'));
    assert.ok(await service().idle(5000));
    const call = app.received[0]!;
    const header = String(call.headers['x-coordinator-signature']);
    const deliveryId = String(call.headers['x-delivery-id']);
    assert.equal(JSON.parse(call.body).channel, 'ch1');
    assert.ok(verifySignature(header, [secrets[0]!], deliveryId, call.body));
    assert.ok(verifySignature(header, [secrets[1]!], deliveryId, call.body));
    assert.ok(!verifySignature(header, secrets, deliveryId, call.body.replace('ch1', 'ch2')), 'tampered body');
    assert.ok(!verifySignature(header, secrets, 'another-delivery', call.body), 'replayed under another id');
    assert.ok(!verifySignature(header, ['wrong-secret-0123456789'], deliveryId, call.body));
  });

  it('[embedded outbox] imports the original active_streams.txt once; its streams get stream-closed', async () => {
    const legacy = path.join(dataDir, 'active_streams.txt');
    writeFileSync(legacy, 'chX:abc\nbroken\n\n');
    await start({}, { importActiveStreamsFile: legacy });
    assert.ok(await service().idle(5000));
    assert.deepEqual(app.received.map((r) => `${r.headers['x-event-type']}:${r.headers['x-streaming-channel']}:${r.headers['x-streaming-id']}`), ['stream-closed:chX:abc']);
    await runtime.stop();
    await start({}, { importActiveStreamsFile: legacy });
    await delay(200);
    assert.equal(app.received.length, 1, 'not imported twice');
  });

  it('survives SIGKILL: undelivered events are delivered after restart, and active streams get stream-closed', async () => {
    answer = () => ({ status: 500, body: '' });
    const env = { DATA_DIR: dataDir, EVENT_CALLBACK_URL: app.url('/events'), DELIVERY_THREAD: deliveryThread ? '1' : '' };
    const first = startChild(...tsNode('test/fixtures/outbox-child.ts'), { ...env, EMIT: '6' });
    await first.waitFor(/emitted/);
    await until(() => app.received.length >= 3);
    first.proc.kill('SIGKILL');
    await first.stop();
    answer = () => ({ body: '' });
    const received = app.received.length;
    const second = startChild(...tsNode('test/fixtures/outbox-child.ts'), env);
    try {
      await second.waitFor(/started/);
      // 6 available + 3 closed (even streams) + 3 closed at boot (odd streams, still active when killed).
      await until(() => new Set(app.received.slice(received).map((r) => r.headers['x-delivery-id'])).size === 12);
    } finally {
      await second.stop('SIGKILL');
    }
    const delivered = app.received.slice(received);
    for (let i = 0; i < 6; i += 1) {
      const events = delivered.filter((r) => r.headers['x-streaming-id'] === `s${i}`).map((r) => `${r.headers['x-event-type']}#${r.headers['x-event-sequence']}`);
      assert.deepEqual(events, ['stream-available#1', 'stream-closed#2'], `stream s${i}`);
    }
  });
});

describe('event callbacks: the delivery thread', function () {
  this.timeout(60_000);
  let app: HookServer;
  let dataDir: string;
  let runtime: Coordinator | undefined;

  beforeEach(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'coord-thread-'));
  });
  afterEach(async () => {
    await runtime?.stop();
    await app?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('the outbox opens again on a new thread: nothing stored is lost, nothing is sent twice in a way order breaks, no stream is closed for it', async () => {
    let up = false;
    app = await hookServer(() => (up ? { body: '' } : { status: 503, body: '' }));
    runtime = makeRuntime({ dataDir }, [eventCallbacks({ retryDelayMs: 20, maxRetryDelayMs: 60, deliveryThread: true })], { EVENT_CALLBACK_URL: app.url('/events') });
    await runtime.start();
    for (let i = 0; i < 4; i += 1) await runtime.emit(available('ch', `s${i}`));
    await until(() => app.received.length >= 4);
    // Emitted while the thread dies: told stored only once a thread has them.
    const during = [runtime.emit(closed('ch', 's0')), runtime.emit(available('ch', 's9'))];
    await killDeliveryThread();
    await Promise.all(during);
    up = true;
    assert.ok(await runtime.service('event-callbacks').idle(20_000), 'the outbox did not drain after the thread died');
    const accepted = new Map<string, string[]>();
    for (const r of app.received) {
      const key = `${r.headers['x-streaming-id']}`;
      const event = `${r.headers['x-event-type']}#${r.headers['x-event-sequence']}`;
      const seen = accepted.get(key) ?? [];
      if (seen.at(-1) !== event) seen.push(event);
      accepted.set(key, seen);
    }
    assert.deepEqual(accepted.get('s0'), ['stream-available#1', 'stream-closed#2']);
    for (const s of ['s1', 's2', 's3', 's9']) assert.deepEqual(accepted.get(s), ['stream-available#1'], `stream ${s}: no stream-closed for a thread's death`);
    assert.equal(runtime.readiness().ready, true);
  });

  it('starts with the first event, not with the coordinator; at once when the outbox has work left from before', async () => {
    app = await hookServer(() => ({ status: 503, body: '' }));
    const env = { DATA_DIR: dataDir, EVENT_CALLBACK_URL: app.url('/events'), DELIVERY_THREAD: '1', REPORT_THREAD: '1' };
    const first = startChild(...tsNode('test/fixtures/outbox-child.ts'), { ...env, EMIT: '1' });
    try {
      await first.waitFor(/emitted/);
      assert.match(first.output(), /thread at start: no/);
      assert.match(first.output(), /thread after the emits: yes/);
    } finally {
      await first.stop('SIGKILL');
    }
    // Its event is still waiting (the application answers 503): the next start takes the thread at once.
    const second = startChild(...tsNode('test/fixtures/outbox-child.ts'), env);
    try {
      await second.waitFor(/started/);
      assert.match(second.output(), /thread at start: yes/);
    } finally {
      await second.stop('SIGKILL');
    }
  });

  it('one thread serves every coordinator of the process: each its own outbox, each stream in order, a stop of one leaves the other delivering', async () => {
    app = await hookServer(() => ({ body: '' }));
    const otherDir = mkdtempSync(path.join(tmpdir(), 'coord-thread-'));
    const make = (dir: string) => makeRuntime({ dataDir: dir }, [eventCallbacks({ retryDelayMs: 20, deliveryThread: true })], { EVENT_CALLBACK_URL: app.url('/events') });
    runtime = make(dataDir);
    const other = make(otherDir);
    try {
      await runtime.start();
      await other.start();
      await Promise.all([
        (async () => { for (let i = 0; i < 20; i += 1) await runtime!.emit(available('a', `a${i % 4}`)); })(),
        (async () => { for (let i = 0; i < 20; i += 1) await other.emit(available('b', `b${i % 4}`)); })(),
      ]);
      // Its events delivered first (a stop leaves what is still waiting on disk for the next start).
      await runtime.service('event-callbacks').idle(10_000);
      await runtime.stop();
      runtime = undefined;
      for (let i = 0; i < 5; i += 1) await other.emit(available('b', 'b0'));
      assert.ok(await other.service('event-callbacks').idle(10_000));
      const sequences = (channel: string, streamId: string) => app.received.filter((r) => r.headers['x-streaming-channel'] === channel && r.headers['x-streaming-id'] === streamId).map((r) => Number(r.headers['x-event-sequence']));
      for (let i = 0; i < 4; i += 1) assert.deepEqual(sequences('a', `a${i}`), [1, 2, 3, 4, 5], `stream a${i}`);
      assert.deepEqual(sequences('b', 'b0'), Array.from({ length: 10 }, (_, i) => i + 1));
      for (let i = 1; i < 4; i += 1) assert.deepEqual(sequences('b', `b${i}`), [1, 2, 3, 4, 5], `stream b${i}`);
    } finally {
      await other.stop();
      rmSync(otherDir, { recursive: true, force: true });
    }
  });
});
