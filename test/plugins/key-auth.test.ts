import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { inProcessProvider, keyAuth, parsePreviews, encodePreviews, parseResolutionList, encodeResolutionList, KEY_AUTH_ATTRIBUTE, type StreamSettings } from '../../index.js';
import type { Coordinator } from '../../core/runtime.js';
import { makeRuntime } from '../support/runtime.js';
import { hookServer, type HookServer, type Answer } from '../support/http.js';

describe('resolutions, previews, record (the shared grammar)', () => {
  const resolutionRows: Array<[string, string]> = [
    ['1280x720-30~2500, 640x360-30', '1280x720-30~2500,640x360-30'],
    ['original,854x480-0', 'ORIGINAL,854x480'],
    ['1280x720, ORIGINAL', '1280x720'],
    ['junk', ''],
    ['1280X720', ''],
    ['1280x720 - 30', ''],
    ['1280x720--30', '1280x720'],
    ['', 'ORIGINAL'],
    ['+720x007', '720x7'],
    ['1280x720~abc', ''],
  ];
  for (const [input, expected] of resolutionRows) {
    it(`x-resolutions ${JSON.stringify(input)} -> ${JSON.stringify(expected)}`, () => {
      assert.equal(encodeResolutionList(parseResolutionList(input)), expected);
    });
  }
  const previewRows: Array<[string, string]> = [
    ['256x144, 3', '256x144,3'], ['False', 'False'], ['', 'False'], ['256x144', 'False'],
    ['256x144,0', 'False'], ['256 x 144,3', 'False'], ['1,2,3', 'False'], ['0x0,5', '0x0,5'],
  ];
  for (const [input, expected] of previewRows) {
    it(`x-previews ${JSON.stringify(input)} -> ${expected}`, () => assert.equal(encodePreviews(parsePreviews(input)), expected));
  }
});

describe('key auth against a real local application', function () {
  this.timeout(20_000);
  let app: HookServer;
  let runtime: Coordinator;
  let answer: (r: { headers: Record<string, unknown> }) => Answer;

  async function start(env: Record<string, string>, options: Record<string, unknown> = {}): Promise<void> {
    runtime = makeRuntime({}, [
      keyAuth(options),
      inProcessProvider({ tasks: { 'stream.publish': (_args, ctx) => ctx.requestContext.attributes[KEY_AUTH_ATTRIBUTE] as StreamSettings, 'rpc.task': () => 'ran' } }),
    ], env);
    await runtime.start();
  }

  const publish = (channel = 'ch1', key = 'k1') => runtime.inject({ task: 'stream.publish', args: { channel, key, userIp: '1.2.3.4' } });

  beforeEach(async () => {
    answer = () => ({ body: '' });
    app = await hookServer((r) => answer(r));
  });
  afterEach(async () => {
    await runtime?.stop();
    await app.close();
  });

  it('POSTs an empty body with the channel, key and user IP headers', async () => {
    await start({ KEY_VERIFICATION_URL: app.url('/verify') });
    const response = await publish();
    assert.equal(response.error, '');
    const call = app.received[0]!;
    assert.equal(call.method, 'POST');
    assert.equal(call.url, '/verify');
    assert.equal(call.body, '');
    assert.equal(call.headers['x-streaming-channel'], 'ch1');
    assert.equal(call.headers['x-streaming-key'], 'k1');
    assert.equal(call.headers['x-user-ip'], '1.2.3.4');
    assert.equal(call.headers.authorization, undefined);
  });

  const authModes: Array<[Record<string, string>, string]> = [
    [{ KEY_VERIFICATION_AUTH: 'basic', KEY_VERIFICATION_AUTH_USER: 'u', KEY_VERIFICATION_PASSWORD: 'p' }, 'Basic dTpw'],
    [{ KEY_VERIFICATION_AUTH: 'Bearer', KEY_VERIFICATION_AUTH_TOKEN: 't' }, 'Bearer t'],
    [{ KEY_VERIFICATION_AUTH: 'CUSTOM', KEY_VERIFICATION_AUTH_CUSTOM: 'Token abc' }, 'Token abc'],
  ];
  for (const [env, expected] of authModes) {
    it(`sends Authorization: ${expected} for ${env.KEY_VERIFICATION_AUTH}`, async () => {
      await start({ KEY_VERIFICATION_URL: app.url('/verify'), ...env });
      await publish();
      assert.equal(app.received[0]!.headers.authorization, expected);
    });
  }

  it('denies on 403, 204, 401', async () => {
    await start({ KEY_VERIFICATION_URL: app.url('/verify') });
    for (const status of [403, 204, 401]) {
      answer = () => ({ status, body: '' });
      const response = await publish();
      assert.equal(response.errorCode, 'ERR_REJECTED', String(status));
      assert.equal(response.error, `key verification failed: verifier answered ${status}`);
    }
  });

  it('denies on a timeout (and never waits past it)', async () => {
    answer = () => ({ body: '', delayMs: 2000 });
    await start({ KEY_VERIFICATION_URL: app.url('/verify') }, { timeoutMs: 100 });
    const t0 = Date.now();
    const response = await publish();
    assert.ok(Date.now() - t0 < 1500);
    assert.equal(response.error, 'key verification failed: verifier did not answer within 100 ms');
  });

  it('denies on connection refused, unless failOpen', async () => {
    await start({ KEY_VERIFICATION_URL: 'http://127.0.0.1:1/verify' });
    const denied = await publish();
    assert.equal(denied.errorCode, 'ERR_REJECTED');
    assert.match(denied.error, /verifier unreachable/);
    await runtime.stop();
    await start({ KEY_VERIFICATION_URL: 'http://127.0.0.1:1/verify' }, { failOpen: true });
    const admitted = await publish();
    assert.deepEqual(admitted.result, { resolutions: 'ORIGINAL', record: false, previews: 'False' });
  });

  it('parses the answer headers for the scheduler', async () => {
    answer = () => ({ body: '', headers: { 'x-resolutions': '1280x720-30~2500, 640x360-30', 'x-record': 'TRUE', 'x-previews': '256x144, 3' } });
    await start({ KEY_VERIFICATION_URL: app.url('/verify') });
    assert.deepEqual((await publish()).result, { resolutions: '1280x720-30~2500,640x360-30', record: true, previews: '256x144,3' });
  });

  it('malformed answer headers get the documented defaults, never a crash', async () => {
    answer = () => ({ body: '', headers: { 'x-resolutions': 'junk', 'x-record': 'yes', 'x-previews': '256 x 144,3' } });
    await start({ KEY_VERIFICATION_URL: app.url('/verify') });
    assert.deepEqual((await publish()).result, { resolutions: '', record: false, previews: 'False' });
  });

  it('without headers: ORIGINAL, no recording, no previews', async () => {
    await start({ KEY_VERIFICATION_URL: app.url('/verify') });
    assert.deepEqual((await publish()).result, { resolutions: 'ORIGINAL', record: false, previews: 'False' });
  });

  it('without KEY_VERIFICATION_URL every key is accepted and nothing is called', async () => {
    await start({});
    assert.deepEqual((await publish()).result, { resolutions: 'ORIGINAL', record: false, previews: 'False' });
    assert.equal(app.received.length, 0);
  });

  it('caches positive answers when asked to, and only those', async () => {
    await start({ KEY_VERIFICATION_URL: app.url('/verify') }, { cacheTtlMs: 60_000 });
    await publish('ch1', 'k1');
    await publish('ch1', 'k1');
    assert.equal(app.received.length, 1);
    answer = () => ({ status: 403, body: '' });
    await publish('ch2', 'bad');
    await publish('ch2', 'bad');
    assert.equal(app.received.length, 3);
  });

  it('holds at most cacheMaxEntries cached answers: the oldest is asked again', async () => {
    await start({ KEY_VERIFICATION_URL: app.url('/verify') }, { cacheTtlMs: 60_000, cacheMaxEntries: 2 });
    await publish('ch1', 'k1');
    await publish('ch2', 'k2');
    await publish('ch1', 'k1');
    assert.equal(app.received.length, 2, 'ch1 is still cached');
    // Full at two: ch3's answer pushes out the oldest answer, ch1's.
    await publish('ch3', 'k3');
    await publish('ch2', 'k2');
    await publish('ch1', 'k1');
    assert.deepEqual(app.received.map((r) => r.headers['x-streaming-channel']), ['ch1', 'ch2', 'ch3', 'ch1']);
  });

  it('an expired answer is asked again', async () => {
    await start({ KEY_VERIFICATION_URL: app.url('/verify') }, { cacheTtlMs: 30 });
    await publish('ch1', 'k1');
    await publish('ch1', 'k1');
    assert.equal(app.received.length, 1);
    await new Promise((resolve) => setTimeout(resolve, 60));
    await publish('ch1', 'k1');
    assert.equal(app.received.length, 2);
  });

  it('generic mode: verifies other tasks against the URL with the args as the body', async () => {
    await start({ KEY_VERIFICATION_URL: app.url('/verify') }, { rpcTasks: ['rpc.task'] });
    assert.equal((await runtime.inject({ task: 'rpc.task', id: 'rq1', args: { who: 'me' } })).result, 'ran');
    const call = app.received[0]!;
    assert.equal(call.headers['x-coordinator-task'], 'rpc.task');
    assert.equal(call.headers['x-coordinator-request-id'], 'rq1');
    assert.equal(call.body, '{"who":"me"}');
    answer = () => ({ status: 403, body: '' });
    assert.equal((await runtime.inject({ task: 'rpc.task' })).errorCode, 'ERR_REJECTED');
  });

  it('a burst of 100 publishes reaches the verifier at once (no queue behind a small connection pool)', async () => {
    // The verifier holds every answer until 100 verifications are open at the same time.
    const held: http.ServerResponse[] = [];
    let released = false;
    const verifier = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        held.push(res);
        if (held.length === 100 && !released) { released = true; for (const r of held) r.writeHead(200).end(); }
        else if (released) res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => verifier.listen(0, '127.0.0.1', () => resolve()));
    try {
      await start({ KEY_VERIFICATION_URL: `http://127.0.0.1:${(verifier.address() as AddressInfo).port}/verify` }, { timeoutMs: 5_000 });
      const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => publish(`burst${i}`)));
      assert.deepEqual(answers.filter((a) => a.error !== ''), [], "verifications waited behind the connection pool until they timed out");
      assert.equal(released, true);
    } finally {
      verifier.closeAllConnections();
      await new Promise<void>((resolve) => verifier.close(() => resolve()));
    }
  });
});
