import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventCallbacks, httpServer, keyAuth, streamingControl, type HttpServerService, type EventCallbacksService } from '../../index.js';
import type { Coordinator } from '../../core/runtime.js';
import { makeRuntime, delay } from '../support/runtime.js';
import { hookServer, get, post, type HookServer, type Answer, type Received } from '../support/http.js';
import { ControlPeer, Refused, mintToken } from '../support/control-peer.js';

const SECRET = 's';
const token = (sub: string) => mintToken(SECRET, { sub });

describe('streaming control plane (real WebSockets and HTTP)', function () {
  this.timeout(30_000);
  let runtime: Coordinator;
  let base: string;
  let app: HookServer;
  let appAnswer: (r: Received) => Answer;
  let dataDir: string;
  const peers: ControlPeer[] = [];

  async function start(env: Record<string, string> = {}, options: Record<string, unknown> = {}): Promise<void> {
    runtime = makeRuntime({ dataDir }, [
      httpServer({ port: 0 }),
      keyAuth({ timeoutMs: 2000 }),
      eventCallbacks({ retryDelayMs: 20, maxRetryDelayMs: 50 }),
      streamingControl(options),
    ], { CONTROL_SECRET: SECRET, COMMANDS_API_AUTH: 'Bearer', COMMANDS_API_AUTH_TOKEN: 't', EVENT_CALLBACK_URL: app.url('/events'), ...env });
    await runtime.start();
    base = runtime.service('http.server').baseUrl();
  }

  async function peer(role: 'rtmp' | 'wss' | 'hls', headers: Record<string, string> = {}): Promise<ControlPeer> {
    const p = await ControlPeer.connect(base, `/ws/control/${role}`, { 'x-control-auth-token': token(`${role}-control`), ...headers });
    peers.push(p);
    return p;
  }

  async function encoder(capacity: number | string = -1): Promise<ControlPeer> {
    const p = await peer('hls');
    p.send('REGISTER', { Capacity: capacity });
    await delay(30);
    return p;
  }

  const commands = (urlPath: string, method = 'GET', headers: Record<string, string> = { authorization: 'Bearer t' }) =>
    method === 'GET' ? getWith(`${base}${urlPath}`, headers) : post(`${base}${urlPath}`, '', headers);

  async function getWith(url: string, headers: Record<string, string>) {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
    return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.text() };
  }

  let requestSeq = 0;
  function publish(ingest: ControlPeer, channel: string, key = 'k1', extra: Record<string, string> = {}): string {
    const id = String(++requestSeq);
    ingest.send('PUBLISH-REQUEST', { 'Request-ID': id, 'Stream-Channel': channel, 'Stream-Key': key, 'User-IP': '1.2.3.4', ...extra });
    return id;
  }

  async function answerTo(ingest: ControlPeer, requestId: string) {
    for (;;) {
      const m = await ingest.next();
      if ((m.type === 'PUBLISH-ACCEPT' || m.type === 'PUBLISH-DENY') && m.args['request-id'] === requestId) return m;
    }
  }

  beforeEach(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'coord-stream-'));
    appAnswer = () => ({ body: '' });
    app = await hookServer((r) => appAnswer(r));
  });
  afterEach(async () => {
    for (const p of peers.splice(0)) p.terminate();
    await runtime?.stop();
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  describe('HTTP and authentication', () => {
    it('serves the banner and 404s the rest', async () => {
      await start();
      const banner = await get(`${base}/`);
      assert.equal(banner.status, 200);
      assert.equal(banner.body, 'Coordinator streaming server - Version 1.0.0');
      for (const [p, m] of [['/x', 'GET'], ['/commands/close', 'GET'], ['/commands/capacity', 'POST']] as const) {
        const res = m === 'GET' ? await get(`${base}${p}`) : await post(`${base}${p}`, '');
        assert.equal(res.status, 404, `${m} ${p}`);
        assert.equal(res.body, 'Not found.');
      }
    });

    it('refuses bad tokens of every kind before the upgrade, accepts good ones', async () => {
      await start();
      const attempt = async (role: string, headers: Record<string, string>) => {
        try {
          const p = await ControlPeer.connect(base, `/ws/control/${role}`, headers);
          peers.push(p);
          return 101;
        } catch (err) {
          if (err instanceof Refused) {
            if (err.status === 403) assert.equal(err.body, 'Invalid authentication token.');
            return err.status;
          }
          throw err;
        }
      };
      const now = Math.floor(Date.now() / 1000);
      assert.equal(await attempt('rtmp', {}), 403, 'no token');
      assert.equal(await attempt('rtmp', { 'x-control-auth-token': token('wss-control') }), 403, 'another role');
      assert.equal(await attempt('wss', { 'x-control-auth-token': token('wss-control') }), 101);
      assert.equal(await attempt('hls', { 'x-control-auth-token': mintToken(SECRET, { sub: 'hls-control' }, 'HS384') }), 101, 'HS384');
      assert.equal(await attempt('hls', { 'x-control-auth-token': mintToken(SECRET, { sub: 'hls-control' }, 'HS512') }), 101, 'HS512');
      assert.equal(await attempt('rtmp', { 'x-control-auth-token': mintToken(SECRET, { sub: 'rtmp-control', iat: now, exp: now + 3600 }) }), 101, 'rtmp-server-rs style');
      assert.equal(await attempt('rtmp', { 'x-control-auth-token': mintToken(SECRET, { sub: 'rtmp-control' }, 'none') }), 403, 'alg none');
      assert.equal(await attempt('rtmp', { 'x-control-auth-token': mintToken('other', { sub: 'rtmp-control' }) }), 403, 'wrong secret');
      assert.equal(await attempt('rtmp', { 'x-control-auth-token': mintToken(SECRET, { sub: 'rtmp-control', exp: now - 10 }) }), 403, 'expired');
      assert.equal(await attempt('rtmp', { 'x-control-auth-token': mintToken(SECRET, { sub: 5 }) }), 403, 'non-string sub');
      assert.equal(await attempt('rtmp', { 'x-control-auth-token': 'garbage' }), 403, 'garbage');
      assert.equal(await attempt('hls?v=1', { 'x-control-auth-token': token('hls-control') }), 404, 'query string');
    });

    it('without CONTROL_SECRET every control connection is refused, the rest still works', async () => {
      await start({ CONTROL_SECRET: '' });
      await assert.rejects(ControlPeer.connect(base, '/ws/control/hls', { 'x-control-auth-token': token('hls-control') }), (err: unknown) => err instanceof Refused && err.status === 403);
      assert.equal((await get(`${base}/`)).status, 200);
    });
  });

  describe('registry and commands', () => {
    it('capacity follows REGISTER (bad values ignored, CRLF and case accepted)', async () => {
      await start();
      const cap = async () => JSON.parse((await commands('/commands/capacity')).body);
      const unregistered = await peer('hls');
      assert.deepEqual(await cap(), { load: 0, capacity: 0, encoderCount: 0 });
      unregistered.send('REGISTER', { Capacity: ' abc' });
      unregistered.sendRaw('REGISTER\n\nCapacity:10\n');
      await delay(30);
      assert.deepEqual(await cap(), { load: 0, capacity: 0, encoderCount: 0 });
      assert.ok(!unregistered.closed, 'the socket stays open');
      await encoder(4);
      await encoder(6);
      assert.deepEqual(await cap(), { load: 0, capacity: 10, encoderCount: 2 });
      const crlf = await peer('hls');
      crlf.sendRaw('register\r\ncapacity : 3');
      await delay(30);
      assert.deepEqual(await cap(), { load: 0, capacity: 13, encoderCount: 3 });
      await encoder(-1);
      const res = await commands('/commands/capacity');
      assert.equal(res.body, '{"load":0,"capacity":-1,"encoderCount":4}');
      assert.equal(res.headers['content-type'], 'application/json');
      assert.equal(res.headers['cache-control'], 'no-cache');
    });

    it('reports ingest servers from their connection headers', async () => {
      await start();
      const empty = await commands('/commands/report');
      assert.equal(empty.body, '{"streamingServers":[],"encoders":[],"activeStreams":[]}');
      await peer('wss', { 'x-external-ip': '203.0.113.5', 'x-custom-port': '8443', 'x-ssl-use': 'true' });
      await peer('rtmp', { 'x-external-ip': 'host.example', 'x-custom-port': 'x', 'x-ssl-use': 'TRUE' });
      const report = JSON.parse((await commands('/commands/report')).body);
      assert.equal(report.streamingServers.length, 2);
      const [rtmp, ws] = report.streamingServers;
      assert.deepEqual({ ...rtmp, id: 0 }, { id: 0, ip: '127.0.0.1', port: 1935, ssl: false, serverType: 'RTMP' });
      assert.deepEqual({ ...ws, id: 0 }, { id: 0, ip: '203.0.113.5', port: 8443, ssl: true, serverType: 'WS' });
      assert.ok(rtmp.id > 0 && ws.id > 0 && rtmp.id !== ws.id);
    });

    it('commands API auth: unset, bearer, basic (with the password fix), custom; constant answers', async () => {
      await start({ COMMANDS_API_AUTH: '' });
      assert.equal((await commands('/commands/capacity')).status, 401);
      assert.equal((await commands('/commands/capacity')).body, 'Invalid authorization header.');
      await runtime.stop();
      await start();
      for (const [auth, status] of [['bearer t', 200], ['Bearer x', 401], ['Bearer', 401], ['Bearer ', 401], ['Basic dDp0', 401]] as const) {
        assert.equal((await commands('/commands/capacity', 'GET', { authorization: auth })).status, status, auth);
      }
      await runtime.stop();
      await start({ COMMANDS_API_AUTH: 'Basic', COMMANDS_API_AUTH_USER: 'u', COMMANDS_API_AUTH_TOKEN: 't' });
      assert.equal((await commands('/commands/report', 'GET', { authorization: 'Basic dTp0' })).status, 200);
      await runtime.stop();
      await start({ COMMANDS_API_AUTH: 'Basic', COMMANDS_API_AUTH_USER: 'u', COMMANDS_API_AUTH_TOKEN: 't', COMMANDS_API_AUTH_PASSWORD: 'p' });
      assert.equal((await commands('/commands/report', 'GET', { authorization: 'Basic dTpw' })).status, 200);
      await runtime.stop();
      await start({ COMMANDS_API_AUTH: 'Custom', COMMANDS_API_AUTH_CUSTOM: 'Key abc' });
      assert.equal((await commands('/commands/report', 'GET', { authorization: 'Key abc' })).status, 200);
      assert.equal((await commands('/commands/report', 'GET', { authorization: 'Key abd' })).status, 401);
    });
  });

  describe('publish flow', () => {
    it('accepts: ENCODE-START to the encoder, then PUBLISH-ACCEPT with the same new stream id', async () => {
      await start();
      const enc = await encoder(-1);
      const ingest = await peer('rtmp');
      const t0 = Date.now();
      const id = publish(ingest, 'ch1');
      const start1 = await enc.next('ENCODE-START');
      assert.deepEqual({ ...start1.args, 'stream-id': 'ID' }, {
        'stream-channel': 'ch1', 'stream-id': 'ID', 'stream-source-type': 'RTMP', 'stream-source-uri': 'rtmp://127.0.0.1:1935/ch1/k1',
        resolutions: 'ORIGINAL', record: 'False', previews: 'False',
      });
      const accept = await answerTo(ingest, id);
      assert.equal(accept.type, 'PUBLISH-ACCEPT');
      assert.equal(accept.args['stream-channel'], 'ch1');
      const streamId = accept.args['stream-id']!;
      assert.match(streamId, /^[0-9a-f]{32}$/);
      assert.equal(start1.args['stream-id'], streamId);
      assert.ok(Math.abs(Number.parseInt(streamId.slice(0, 16), 16) - t0) < 5000, 'time prefix');
      for (const m of [start1, accept]) {
        const lines = m.raw.split('\n');
        assert.equal(lines.pop(), '', 'every line ends with \\n');
        for (const line of lines.slice(1)) assert.match(line, /^[A-Za-z-]+:(\S.*)?$/);
      }
      const id2 = publish(ingest, 'ch2');
      const second = (await answerTo(ingest, id2)).args['stream-id']!;
      assert.ok(Number.parseInt(second.slice(16, 24), 16) > Number.parseInt(streamId.slice(16, 24), 16), 'counter increases');
    });

    it('reads messages in any case with CRLF; WS with SSL and IPv6 source URIs', async () => {
      await start();
      const enc = await encoder();
      const ws = await peer('wss', { 'x-ssl-use': 'true', 'x-custom-port': '443', 'x-external-ip': '2001:db8::5' });
      ws.sendRaw('publish-request\r\nrequest-id : 9\r\nstream-channel : ch2\r\nstream-key: k\r\n');
      const startMsg = await enc.next('ENCODE-START');
      assert.equal(startMsg.args['stream-source-type'], 'WS');
      assert.equal(startMsg.args['stream-source-uri'], 'wss://[2001:db8::5]:443/ch2/k');
      assert.equal((await answerTo(ws, '9')).type, 'PUBLISH-ACCEPT');
    });

    it('denies bad ids without calling the verifier; honours ID_MAX_LENGTH', async () => {
      await start({ KEY_VERIFICATION_URL: app.url('/verify'), ID_MAX_LENGTH: '10' });
      await encoder();
      const ingest = await peer('rtmp');
      for (const [channel, key] of [['bad.ch', 'k'], ['ch', ''], ['a'.repeat(11), 'k'], ['ch', 'k'.repeat(11)]]) {
        const id = publish(ingest, channel!, key!);
        const answer = await answerTo(ingest, id);
        assert.equal(answer.type, 'PUBLISH-DENY');
        assert.equal(answer.args['stream-channel'], channel);
      }
      assert.equal(app.received.length, 0, 'the verifier was never called');
      assert.equal((await answerTo(ingest, publish(ingest, 'a'.repeat(10), 'k'))).type, 'PUBLISH-ACCEPT');
    });

    it('uses the verifier answer: deny on 403, settings from its headers', async () => {
      appAnswer = (r) => (r.headers['x-streaming-key'] === 'bad' ? { status: 403, body: '' } : { body: '', headers: { 'x-resolutions': '1280x720-30~2500, 640x360-30', 'x-record': 'TRUE', 'x-previews': '256x144, 3' } });
      await start({ KEY_VERIFICATION_URL: app.url('/verify'), KEY_VERIFICATION_AUTH: 'Bearer', KEY_VERIFICATION_AUTH_TOKEN: 'vt' });
      const enc = await encoder();
      const ingest = await peer('rtmp');
      assert.equal((await answerTo(ingest, publish(ingest, 'ch1', 'bad'))).type, 'PUBLISH-DENY');
      assert.equal((await answerTo(ingest, publish(ingest, 'ch1', 'good'))).type, 'PUBLISH-ACCEPT');
      const startMsg = await enc.next('ENCODE-START');
      assert.equal(startMsg.args.resolutions, '1280x720-30~2500,640x360-30');
      assert.equal(startMsg.args.record, 'True');
      assert.equal(startMsg.args.previews, '256x144,3');
      const verify = app.received.find((r) => r.headers['x-streaming-key'] === 'good')!;
      assert.equal(verify.headers.authorization, 'Bearer vt');
      assert.equal(verify.headers['x-user-ip'], '1.2.3.4');
    });

    it('denies a channel already publishing, from any ingest server', async () => {
      await start();
      const enc = await encoder();
      const a = await peer('rtmp');
      const b = await peer('wss');
      assert.equal((await answerTo(a, publish(a, 'ch1'))).type, 'PUBLISH-ACCEPT');
      assert.equal((await answerTo(a, publish(a, 'ch1'))).type, 'PUBLISH-DENY');
      assert.equal((await answerTo(b, publish(b, 'ch1'))).type, 'PUBLISH-DENY');
      await delay(50);
      assert.equal(enc.all('ENCODE-START').length, 1);
    });

    it('no encoder: deny, then accept once one registers (no residue)', async () => {
      await start();
      const ingest = await peer('rtmp');
      assert.equal((await answerTo(ingest, publish(ingest, 'ch1'))).type, 'PUBLISH-DENY');
      await encoder();
      assert.equal((await answerTo(ingest, publish(ingest, 'ch1'))).type, 'PUBLISH-ACCEPT');
    });

    it('optionally queues a publish until capacity frees', async () => {
      await start({}, { publishQueueMs: 3000 });
      const ingest = await peer('rtmp');
      const id = publish(ingest, 'ch1');
      await delay(100);
      await encoder();
      assert.equal((await answerTo(ingest, id)).type, 'PUBLISH-ACCEPT');
    });

    it('chooses the least loaded encoder, ties to the lowest session id; capacity 0 never; drain', async () => {
      await start();
      const zero = await encoder(0);
      const ingest = await peer('rtmp');
      assert.equal((await answerTo(ingest, publish(ingest, 'z1'))).type, 'PUBLISH-DENY', 'capacity 0 is never chosen');
      const a = await encoder(-1);
      const b = await encoder(5);
      await answerTo(ingest, publish(ingest, 'c1'));
      await answerTo(ingest, publish(ingest, 'c2'));
      await answerTo(ingest, publish(ingest, 'c3'));
      await delay(30);
      assert.deepEqual([a.all('ENCODE-START').length, b.all('ENCODE-START').length, zero.all('ENCODE-START').length], [2, 1, 0], 'a (lower id) first, then b, then a');
      const report = JSON.parse((await commands('/commands/report')).body);
      const aId = report.encoders.find((e: { capacity: number }) => e.capacity === -1).id;
      assert.equal((await commands('/commands/encoder-drain', 'POST', { authorization: 'Bearer t', 'x-encoder-id': String(aId) })).status, 200);
      await answerTo(ingest, publish(ingest, 'c4'));
      await answerTo(ingest, publish(ingest, 'c5'));
      await delay(30);
      assert.equal(a.all('ENCODE-START').length, 2, 'a drained: no new streams');
      assert.equal(b.all('ENCODE-START').length, 3);
    });

    it('respects capacity and releases a slot at PUBLISH-END', async () => {
      await start();
      const enc = await encoder(1);
      const ingest = await peer('rtmp');
      const first = await answerTo(ingest, publish(ingest, 'ch1'));
      assert.equal(first.type, 'PUBLISH-ACCEPT');
      assert.equal((await answerTo(ingest, publish(ingest, 'ch2'))).type, 'PUBLISH-DENY');
      assert.equal(JSON.parse((await commands('/commands/capacity')).body).load, 1);
      ingest.send('PUBLISH-END', { 'Stream-Channel': 'ch1', 'Stream-ID': first.args['stream-id']! });
      const stop = await enc.next('ENCODE-STOP');
      assert.deepEqual(stop.args, { 'stream-channel': 'ch1', 'stream-id': first.args['stream-id'] });
      assert.equal(JSON.parse((await commands('/commands/capacity')).body).load, 0);
      assert.equal((await answerTo(ingest, publish(ingest, 'ch2'))).type, 'PUBLISH-ACCEPT');
    });
  });

  describe('ending streams', () => {
    async function live(): Promise<{ enc: ControlPeer; ingest: ControlPeer; streamId: string }> {
      await start();
      const enc = await encoder();
      const ingest = await peer('rtmp');
      const accept = await answerTo(ingest, publish(ingest, 'ch1'));
      return { enc, ingest, streamId: accept.args['stream-id']! };
    }

    it('ignores PUBLISH-END with another id or from another session, and for closed channels', async () => {
      const { enc, ingest, streamId } = await live();
      const other = await peer('wss');
      ingest.send('PUBLISH-END', { 'Stream-Channel': 'ch1', 'Stream-ID': 'not-the-id' });
      other.send('PUBLISH-END', { 'Stream-Channel': 'ch1', 'Stream-ID': streamId });
      ingest.send('PUBLISH-END', { 'Stream-Channel': 'nope', 'Stream-ID': streamId });
      await delay(80);
      assert.equal(enc.all('ENCODE-STOP').length, 0);
      assert.equal(JSON.parse((await commands('/commands/report')).body).activeStreams.length, 1);
    });

    it('close command: STREAM-KILL with the id verbatim (* stays *), SUCCESS either way', async () => {
      const { ingest } = await live();
      const res = await commands('/commands/close', 'POST', { authorization: 'Bearer t', 'x-streaming-channel': 'ch1', 'x-streaming-id': '*' });
      assert.equal(res.status, 200);
      assert.equal(res.body, 'SUCCESS');
      assert.deepEqual((await ingest.next('STREAM-KILL')).args, { 'stream-channel': 'ch1', 'stream-id': '*' });
      await commands('/commands/close', 'POST', { authorization: 'Bearer t', 'x-streaming-channel': 'ch1' });
      assert.deepEqual((await ingest.next('STREAM-KILL')).args, { 'stream-channel': 'ch1', 'stream-id': '' });
      assert.equal((await commands('/commands/close', 'POST', { authorization: 'Bearer t', 'x-streaming-channel': 'other' })).body, 'SUCCESS');
    });

    it('STREAM-CLOSED from the encoder kills the publisher with the id and closes the channel', async () => {
      const { enc, ingest, streamId } = await live();
      enc.send('STREAM-CLOSED', { 'Stream-Channel': 'ch1', 'Stream-ID': 'other' });
      await delay(50);
      assert.equal(ingest.all('STREAM-KILL').length, 0);
      enc.send('STREAM-CLOSED', { 'Stream-Channel': 'ch1', 'Stream-ID': streamId });
      assert.deepEqual((await ingest.next('STREAM-KILL')).args, { 'stream-channel': 'ch1', 'stream-id': streamId });
      assert.equal(JSON.parse((await commands('/commands/report')).body).activeStreams.length, 0);
    });

    it('ingest disconnect: ENCODE-STOP with the stored id; the channel can be published elsewhere', async () => {
      const { enc, ingest, streamId } = await live();
      await ingest.close();
      assert.deepEqual((await enc.next('ENCODE-STOP')).args, { 'stream-channel': 'ch1', 'stream-id': streamId });
      const report = JSON.parse((await commands('/commands/report')).body);
      assert.deepEqual([report.streamingServers.length, report.activeStreams.length], [0, 0]);
      const other = await peer('wss');
      assert.equal((await answerTo(other, publish(other, 'ch1'))).type, 'PUBLISH-ACCEPT');
    });

    it('encoder disconnect: STREAM-KILL to the publisher, stream-closed to the application, encoder leaves capacity', async () => {
      const { enc, ingest, streamId } = await live();
      enc.send('STREAM-AVAILABLE', { 'Stream-Channel': 'ch1', 'Stream-ID': streamId, 'Stream-Type': 'HLS-LIVE', Resolution: '1280x720-30', 'Index-file': `hls/ch1/${streamId}/1280x720-30/live.m3u8` });
      await delay(50);
      await enc.close();
      assert.deepEqual((await ingest.next('STREAM-KILL')).args, { 'stream-channel': 'ch1', 'stream-id': streamId });
      assert.deepEqual(JSON.parse((await commands('/commands/capacity')).body), { load: 0, capacity: 0, encoderCount: 0 });
      assert.ok(await runtime.service('event-callbacks').idle(5000));
      assert.deepEqual(app.received.map((r) => `${r.headers['x-event-type']}:${r.headers['x-streaming-channel']}:${r.headers['x-streaming-id'] === streamId}`), ['stream-available:ch1:true', 'stream-closed:ch1:true']);
      const available = app.received[0]!;
      assert.equal(available.headers['x-stream-type'], 'HLS-LIVE');
      assert.equal(available.headers['x-resolution'], '1280x720-30');
      assert.equal(available.headers['x-index-file'], `hls/ch1/${streamId}/1280x720-30/live.m3u8`);
    });

    it('optionally moves streams to another encoder when one disconnects', async () => {
      await start({}, { reassignOnEncoderLoss: true });
      const first = await encoder();
      const ingest = await peer('rtmp');
      const streamId = (await answerTo(ingest, publish(ingest, 'ch1'))).args['stream-id'];
      const second = await encoder();
      await first.close();
      const moved = await second.next('ENCODE-START');
      assert.equal(moved.args['stream-id'], streamId);
      assert.equal(ingest.all('STREAM-KILL').length, 0);
    });

    it('events reach the application in order; a closed stream closes once', async () => {
      const { enc, streamId } = await live();
      for (const res of ['1280x720-30', '640x360-30']) {
        enc.send('STREAM-AVAILABLE', { 'Stream-Channel': 'ch1', 'Stream-ID': streamId, 'Stream-Type': 'HLS-LIVE', Resolution: res, 'Index-file': `hls/ch1/${streamId}/${res}/live.m3u8` });
      }
      enc.send('STREAM-AVAILABLE', { 'Stream-Channel': 'ch1', 'Stream-ID': streamId, 'Stream-Type': 'HLS-VOD', Resolution: '1280x720-30', 'Index-file': 'vod-0.m3u8', 'Start-Time': '12.5' });
      enc.send('STREAM-CLOSED', { 'Stream-Channel': 'ch1', 'Stream-ID': streamId });
      enc.send('STREAM-CLOSED', { 'Stream-Channel': 'ch1', 'Stream-ID': streamId });
      enc.send('STREAM-CLOSED', { 'Stream-Channel': 'ch1', 'Stream-ID': 'never-announced' });
      await delay(50);
      assert.ok(await runtime.service('event-callbacks').idle(5000));
      assert.deepEqual(app.received.map((r) => `${r.headers['x-event-type']}#${r.headers['x-event-sequence']}`), ['stream-available#1', 'stream-available#2', 'stream-available#3', 'stream-closed#4']);
      assert.equal(app.received[2]!.headers['x-start-time'], '12.5');
    });
  });

  describe('liveness', () => {
    it('sends heartbeats, and disconnects a silent peer with the clean-up', async () => {
      await start({}, { heartbeatIntervalMs: 50, inactivityTimeoutMs: 300 });
      const enc = await encoder();
      const ingest = await peer('rtmp');
      const streamId = (await answerTo(ingest, publish(ingest, 'ch1'))).args['stream-id'];
      const keepAlive = setInterval(() => enc.send('HEARTBEAT'), 50);
      try {
        await delay(500);
        assert.ok(ingest.closed, 'the silent ingest peer was disconnected');
        assert.ok(!enc.closed, 'the encoder that sends heartbeats stays');
        assert.ok(enc.all('HEARTBEAT').length >= 5);
        assert.deepEqual((await enc.next('ENCODE-STOP')).args, { 'stream-channel': 'ch1', 'stream-id': streamId });
      } finally {
        clearInterval(keepAlive);
      }
    });

    it('closes a connection that sends a message over the size limit', async () => {
      await start({}, { maxMessageBytes: 1024 });
      const enc = await encoder();
      enc.sendRaw(`REGISTER\nCapacity:1\nPadding:${'x'.repeat(2048)}\n`);
      for (let i = 0; i < 50 && !enc.closed; i += 1) await delay(20);
      assert.ok(enc.closed);
      assert.deepEqual(JSON.parse((await commands('/commands/capacity')).body), { load: 0, capacity: 0, encoderCount: 0 }, 'its session was cleaned up');
    });

    it('ignores unknown, misplaced and binary messages; the socket stays open', async () => {
      await start();
      const enc = await encoder();
      const ingest = await peer('rtmp');
      enc.send('PUBLISH-REQUEST', { 'Request-ID': '1', 'Stream-Channel': 'c', 'Stream-Key': 'k' });
      ingest.send('REGISTER', { Capacity: 5 });
      ingest.send('FOO');
      ingest.sendRaw(Buffer.from([1, 2, 3]));
      ingest.send('ERROR', { 'Error-Code': 'X', 'Error-Message': 'y' });
      ingest.sendRaw('');
      await delay(100);
      assert.equal(enc.received.filter((m) => m.type !== 'HEARTBEAT').length, 0);
      assert.equal(ingest.received.filter((m) => m.type !== 'HEARTBEAT').length, 0);
      assert.ok(!enc.closed && !ingest.closed);
      assert.equal(JSON.parse((await commands('/commands/capacity')).body).encoderCount, 1);
    });
  });
});
