// The console's server side over real HTTP: its actions need a session and
// that session's CSRF token, retrying dead letters sends them again with their
// delivery ids, the event stream opens with the history, and what the console
// keeps in memory is bounded.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { eventCallbacks, httpServer, operations, STREAM_AVAILABLE } from '../../index.js';
import type { Coordinator } from '../../core/runtime.js';
import { makeEvent } from '../../core/events.js';
import { makeRuntime, until } from '../support/runtime.js';
import { hookServer, post, type HookServer } from '../support/http.js';
import { History, SERIES } from '../../plugins/operations/history.js';
import { RecentErrors } from '../../plugins/operations/recent-errors.js';

async function signIn(base: string): Promise<{ cookie: string; csrf: string }> {
  const login = await post(`${base}/dashboard/login`, 'authorization=Bearer+console-token', { 'content-type': 'application/x-www-form-urlencoded' });
  assert.equal(login.status, 303);
  const cookie = String(login.headers['set-cookie']).split(';')[0]!;
  const page = await post(`${base}/dashboard`, '', { cookie }, 'GET');
  assert.equal(page.status, 200);
  const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(page.body)?.[1];
  assert.ok(csrf, 'the page carries a CSRF token');
  return { cookie, csrf };
}

describe('console: actions, CSRF, history', function () {
  this.timeout(30_000);
  let runtime: Coordinator;
  let app: HookServer;
  let dataDir: string;
  let base: string;
  let answer = 500;

  beforeEach(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'coord-console-api-'));
    answer = 500;
    app = await hookServer(() => ({ status: answer, body: 'x' }));
    runtime = makeRuntime({ dataDir }, [httpServer({ port: 0 }), eventCallbacks({ retryDelayMs: 10, maxRetryDelayMs: 20, deadLetterAfterMs: 50 }), operations({ historyIntervalMs: 100 })],
      { COMMANDS_API_AUTH: 'Bearer', COMMANDS_API_AUTH_TOKEN: 'console-token', EVENT_CALLBACK_URL: app.url('/events') });
    await runtime.start();
    base = runtime.service('http.server').baseUrl();
  });
  afterEach(async () => {
    await runtime?.stop();
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('retries dead letters from the console with their delivery ids and sequence numbers', async () => {
    await runtime.emit(makeEvent(STREAM_AVAILABLE, { channel: 'ch', streamId: 'S1', streamType: 'HLS-LIVE', resolution: '1280x720-30', indexFile: 'i.m3u8' }));
    const callbacks = runtime.service('event-callbacks');
    await until(() => callbacks.stats().deadLetters === 1, 5000);
    const firstId = app.received[0]!.headers['x-delivery-id'];
    assert.equal((await callbacks.streamState('ch', 'S1'))!.deadLetters, 1);

    answer = 200;
    const { cookie, csrf } = await signIn(base);
    const res = await post(`${base}/dashboard/actions/retry-dead-letters`, '{}', { cookie, 'x-csrf-token': csrf });
    assert.equal(res.status, 200, res.body);
    assert.equal(JSON.parse(res.body).moved, 1);
    await until(() => app.received.some((r) => r.headers['x-delivery-id'] === firstId && app.received.indexOf(r) > 0), 5000);
    assert.ok(await callbacks.idle(5000));
    const stats = callbacks.stats();
    assert.equal(stats.deadLetters, 0);
    assert.equal(stats.depth, 0);
    const delivered = app.received.filter((r) => r.headers['x-delivery-id'] === firstId);
    assert.equal(delivered.at(-1)!.headers['x-event-sequence'], '1', 'same sequence number');
    assert.equal((await callbacks.streamState('ch', 'S1'))!.delivered, 1);
  });

  it('refuses actions without a session, without or with a wrong CSRF token, and bad bodies', async () => {
    const { cookie, csrf } = await signIn(base);
    const action = (headers: Record<string, string>, body = '{}', name = 'retry-dead-letters') => post(`${base}/dashboard/actions/${name}`, body, headers);
    // The commands credential alone is no session: actions come from the console only.
    assert.equal((await action({ authorization: 'Bearer console-token', 'x-csrf-token': csrf })).status, 401);
    const noToken = await action({ cookie });
    assert.equal(noToken.status, 403);
    assert.equal(JSON.parse(noToken.body).code, 'ERR_CSRF');
    assert.equal((await action({ cookie, 'x-csrf-token': `${csrf}x` })).status, 403);
    // Another session's token does not fit this session.
    const other = await signIn(base);
    assert.equal((await action({ cookie, 'x-csrf-token': other.csrf })).status, 403);
    assert.equal((await action({ cookie, 'x-csrf-token': csrf }, 'not json')).status, 400);
    assert.equal((await action({ cookie, 'x-csrf-token': csrf }, JSON.stringify({ pad: 'x'.repeat(10_000) }))).status, 413);
    assert.equal((await action({ cookie, 'x-csrf-token': csrf }, '{}', 'no-such-action')).status, 404);
    assert.equal((await action({ cookie, 'x-csrf-token': csrf }, '{}', 'close-stream')).status, 404, 'streaming-control is not configured here');
    assert.equal((await post(`${base}/dashboard/actions/retry-dead-letters`, '', { cookie, 'x-csrf-token': csrf }, 'GET')).status, 404);
    // After sign-out the token is worthless.
    const out = await post(`${base}/dashboard/logout`, '', { cookie });
    assert.equal(out.status, 303);
    assert.equal((await action({ cookie, 'x-csrf-token': csrf })).status, 401);
  });

  it('the event stream opens with the history; samples follow', async () => {
    const { cookie } = await signIn(base);
    await runtime.inject({ id: 'bad-1', task: 'Nothing' });
    const text = await new Promise<string>((resolve, reject) => {
      let data = '';
      const req = http.get(`${base}/dashboard/events`, { headers: { cookie } }, (res) => {
        res.on('data', (chunk: Buffer) => {
          data += chunk.toString();
          if (data.includes('event: sample')) {
            req.destroy();
            resolve(data);
          }
        });
      });
      req.on('error', reject);
    });
    const history = JSON.parse(/^event: history\ndata: (.*)$/m.exec(text)![1]!);
    assert.equal(history.intervalMs, 100);
    assert.deepEqual(Object.keys(history.series).sort(), [...SERIES].sort());
    const state = JSON.parse(/^data: (\{"at".*)$/m.exec(text)![1]!);
    assert.equal(state.recentErrors[0].requestId, 'bad-1');
    assert.equal(state.recentErrors[0].code, 'ERR_NO_PROVIDER');
  });
});

describe('console memory is bounded', () => {
  const gauges = { outboxDepth: 1, outboxOldestSec: 0, deadLetters: 0, deliveredTotal: 0, retriesTotal: 0, proxyBytesTotal: 0, encoderLoad: 0, encoderCapacity: 0, inFlight: 0 };

  it('the history keeps its last `points` samples, with rates and percentiles per interval', () => {
    const history = new History(1000, 50);
    let now = 1_000_000;
    for (let i = 0; i < 500; i += 1) {
      for (let r = 0; r < 10; r += 1) history.request({ id: 'x', task: 't', outcome: r === 9 ? 'ERR_TIMEOUT' : 'ok', durationMs: r === 9 ? 900 : 2, resolved: true });
      for (let d = 0; d < 30; d += 1) history.publish({ accepted: false, reason: `reason-${d}` });
      now += 1000;
      history.sample({ ...gauges, deliveredTotal: i * 5, proxyBytesTotal: i * 1024 }, now);
    }
    const json = history.toJSON();
    assert.equal(json.t.length, 50);
    assert.equal(json.t.at(-1), now / 1000);
    assert.equal(json.series.ok.at(-1), 9);
    assert.equal(json.series.timeout.at(-1), 1);
    assert.ok(json.series.p50.at(-1)! >= 2 && json.series.p50.at(-1)! < 2.5, `p50 ${json.series.p50.at(-1)}`);
    assert.ok(json.series.p99.at(-1)! >= 900 && json.series.p99.at(-1)! < 1125, `p99 ${json.series.p99.at(-1)}`);
    assert.equal(json.series.delivered.at(-1), 5);
    assert.equal(json.series.proxyBytesPerSec.at(-1), 1024);
    assert.equal(json.series.denied.at(-1), 30 * 60);
    // 30 distinct reasons: 16 kept by name, the rest counted as "other".
    assert.equal(json.topDenials.length, 17);
    assert.equal(json.topDenials[0]!.reason, 'other');
  });

  it('recent errors keep the newest, with their fields cut to a length', () => {
    const errors = new RecentErrors(5);
    errors.note({ id: 'fine', task: 't', outcome: 'ok', durationMs: 1, resolved: true });
    for (let i = 0; i < 12; i += 1) errors.note({ id: `e${i}`, task: 'x'.repeat(10_000), outcome: 'ERR_TIMEOUT', durationMs: 1, resolved: false, error: 'y'.repeat(10_000) });
    const list = errors.list();
    assert.deepEqual(list.map((e) => e.requestId), ['e11', 'e10', 'e9', 'e8', 'e7']);
    assert.equal(list[0]!.task.length, 64);
    assert.equal(list[0]!.message.length, 240);
  });
});
