import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { definePlugin, eventCallbacks, httpServer, httpIngress, inProcessProvider, keyAuth, makeEvent, operations, streamingControl, streamProxy, unixTransport, type HttpServerService, type EventCallbacksService } from '../../index.js';
import type { Coordinator } from '../../core/runtime.js';
import { makeRuntime, delay } from '../support/runtime.js';
import { get, hookServer, type HookServer } from '../support/http.js';
import { ControlPeer, mintToken } from '../support/control-peer.js';
import { tempSocketDir } from '../support/sockets.js';

const ENV = { CONTROL_SECRET: 's', COMMANDS_API_AUTH: 'Bearer', COMMANDS_API_AUTH_TOKEN: 't' };

function metricValue(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line ? Number(line.split(' ').pop()) : Number.NaN;
}

describe('operations: health, readiness, metrics, status', function () {
  this.timeout(30_000);
  let runtime: Coordinator;
  let dataDir: string;
  let sockets: ReturnType<typeof tempSocketDir>;
  let app: HookServer;

  beforeEach(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'coord-ops-'));
    sockets = tempSocketDir();
    app = await hookServer(() => ({ body: '' }));
  });
  afterEach(async () => {
    await runtime?.stop();
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
    sockets.cleanup();
  });

  it('readiness follows start and stop; health stays alive', async () => {
    let releaseStart!: () => void;
    const slow = definePlugin({ name: 'slow-start', apply(api) { api.onStart(() => new Promise<void>((r) => { releaseStart = r; })); } });
    let releaseTask!: () => void;
    runtime = makeRuntime({ dataDir, drainTimeoutMs: 5000 }, [httpServer({ port: 0 }), operations(), slow, inProcessProvider({ tasks: { Hold: () => new Promise<string>((r) => { releaseTask = () => r('done'); }) } })], ENV);
    const starting = runtime.start();
    await delay(50);
    const base = runtime.service('http.server').baseUrl();
    const during = await get(`${base}/readyz`);
    assert.equal(during.status, 503);
    assert.equal(JSON.parse(during.body).runtime, 'starting');
    assert.equal((await get(`${base}/healthz`)).status, 200);
    releaseStart();
    await starting;
    const ready = await get(`${base}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(JSON.parse(ready.body), { status: 'ready', runtime: 'started', checks: { 'http-server': true } });
    const held = runtime.inject({ task: 'Hold' });
    await delay(20);
    const stopping = runtime.stop();
    await delay(50);
    const draining = await get(`${base}/readyz`);
    assert.equal(draining.status, 503);
    assert.equal(JSON.parse(draining.body).runtime, 'stopping');
    releaseTask();
    assert.equal((await held).result, 'done', 'the in-flight request finished during the drain');
    await stopping;
  });

  it('the metrics documented in docs/operations.md are exactly the ones /metrics exposes', async () => {
    runtime = makeRuntime({ dataDir, socketDir: sockets.dir }, [
      unixTransport(), httpServer({ port: 0 }), httpIngress(), streamProxy(), keyAuth(), eventCallbacks(), streamingControl(), operations(),
    ], ENV);
    await runtime.start();
    const text = (await get(`${runtime.service('http.server').baseUrl()}/metrics`)).body;
    const exposed = new Set(text.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]!));
    const doc = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## Metrics'), doc.indexOf('## Security'));
    const documented = new Set([...section.matchAll(/^\| `(coordinator_[a-z_]+)`/gm)].map((m) => m[1]!));
    const ours = [...exposed].filter((n) => !/^coordinator_(process|nodejs)_/.test(n));
    assert.deepEqual(ours.filter((n) => !documented.has(n)), [], 'exposed but not documented');
    assert.deepEqual([...documented].filter((n) => !exposed.has(n)), [], 'documented but not exposed');
    assert.ok([...exposed].some((n) => n === 'coordinator_process_cpu_seconds_total'), 'process metrics under coordinator_process_*');
    assert.ok(![...exposed].some((n) => n.startsWith('coordinator_process_process_')), 'doubled prefix');
    for (const name of exposed) if (text.includes(`# TYPE ${name} counter`)) assert.match(name, /_total$/, `counter ${name} without _total`);
  });

  it('metrics change as requests, publishes and callbacks flow', async () => {
    runtime = makeRuntime({ dataDir, socketDir: sockets.dir }, [
      unixTransport(), httpServer({ port: 0 }), httpIngress(), streamProxy(), keyAuth(), eventCallbacks({ retryDelayMs: 20, maxRetryDelayMs: 40 }), streamingControl(), operations({ processMetrics: false }),
      inProcessProvider({ tasks: { Ok: () => 1, Fail: () => { throw new Error('no'); } } }),
    ], { ...ENV, EVENT_CALLBACK_URL: app.url('/events') });
    await runtime.start();
    const base = runtime.service('http.server').baseUrl();
    const metrics = async () => (await get(`${base}/metrics`)).body;
    const before = await metrics();
    assert.equal(metricValue(before, 'coordinator_requests_total', 'task="Ok",outcome="ok"'), Number.NaN);
    await runtime.call('Ok');
    await runtime.call('Ok');
    await runtime.inject({ task: 'Fail' });
    await runtime.inject({ task: 'Missing' });
    const encoder = await ControlPeer.connect(base, '/ws/control/hls', { 'x-control-auth-token': mintToken('s', { sub: 'hls-control' }) });
    const ingest = await ControlPeer.connect(base, '/ws/control/rtmp', { 'x-control-auth-token': mintToken('s', { sub: 'rtmp-control' }) });
    try {
      encoder.send('REGISTER', { Capacity: 3 });
      await delay(30);
      ingest.send('PUBLISH-REQUEST', { 'Request-ID': '1', 'Stream-Channel': 'ch1', 'Stream-Key': 'k' });
      const accept = await ingest.next('PUBLISH-ACCEPT');
      ingest.send('PUBLISH-REQUEST', { 'Request-ID': '2', 'Stream-Channel': 'bad.ch', 'Stream-Key': 'k' });
      await ingest.next('PUBLISH-DENY');
      await runtime.emit(makeEvent('stream.available', { channel: 'ch1', streamId: accept.args['stream-id'], streamType: 'HLS-LIVE', resolution: '1280x720-30', indexFile: 'x' }));
      assert.ok(await runtime.service('event-callbacks').idle(5000));
      const after = await metrics();
      assert.equal(metricValue(after, 'coordinator_requests_total', 'task="Ok",outcome="ok"'), 2);
      assert.equal(metricValue(after, 'coordinator_requests_total', 'task="Fail",outcome="error"'), 1);
      // A task no provider serves is a name the caller chose: counted under "other", never its own series.
      assert.equal(metricValue(after, 'coordinator_requests_total', 'task="other",outcome="ERR_NO_PROVIDER"'), 1);
      assert.equal(metricValue(after, 'coordinator_request_duration_seconds_count', 'task="Ok",outcome="ok"'), 2);
      assert.equal(metricValue(after, 'coordinator_publishes_total', 'result="accepted",reason="accepted"'), 1);
      assert.equal(metricValue(after, 'coordinator_publishes_total', 'result="denied",reason="ERR_REJECTED"'), 1);
      assert.equal(metricValue(after, 'coordinator_control_connections', 'role="hls"'), 1);
      assert.equal(metricValue(after, 'coordinator_control_connections', 'role="rtmp"'), 1);
      assert.equal(metricValue(after, 'coordinator_encoder_capacity'), 3);
      assert.equal(metricValue(after, 'coordinator_encoder_load'), 1);
      assert.equal(metricValue(after, 'coordinator_active_streams'), 1);
      assert.equal(metricValue(after, 'coordinator_callback_delivered_total'), 1);
      assert.equal(metricValue(after, 'coordinator_callback_outbox_depth'), 0);
      assert.equal(metricValue(after, 'coordinator_requests_in_flight'), 0);
      const status = await fetch(`${base}/status`, { headers: { authorization: 'Bearer t' } });
      const snapshot = await status.json() as { encoders: unknown[]; activeStreams: Array<{ channel: string }>; ingestServers: unknown[] };
      assert.equal(snapshot.encoders.length, 1);
      assert.equal(snapshot.activeStreams[0]!.channel, 'ch1');
      assert.equal(snapshot.ingestServers.length, 1);
      assert.equal((await fetch(`${base}/status`)).status, 401);
    } finally {
      encoder.terminate();
      ingest.terminate();
    }
  });
});
