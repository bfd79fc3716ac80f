// Issue 10, items 7-11 and 15: credentials that fail closed, federation
// peers compared as parsed addresses, the HTTP hook policy, bounded dashboard
// sessions, redaction by parsed name, and a stop that keeps its deadline.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import https from 'node:https';
import { definePlugin, keyAuth, httpIngress, httpServer, inProcessProvider, operations, streamingControl, unixTransport, type HttpServerService } from '../../index.js';
import type { Coordinator } from '../../core/runtime.js';
import { redact } from '../../plugins/streaming-control/control-plane.js';
import { parseMessage, arg } from '../../plugins/streaming-control/messages.js';
import { captureLogger, makeRuntime, delay } from '../support/runtime.js';
import { createCoordinator } from '../../index.js';
import { tempSocketDir } from '../support/sockets.js';
import { get, hookServer, post, type HookServer } from '../support/http.js';
import { makeCert } from '../support/certs.js';
import { rawSend } from '../support/raw-acomm.js';

function metricValue(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ').pop()) : Number.NaN;
}

function request(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return post(url, '', headers, method);
}

describe('hardening: credentials, peers, hooks, sessions, redaction, stop deadline', function () {
  this.timeout(30_000);
  let runtime: Coordinator | undefined;
  let sockets: ReturnType<typeof tempSocketDir>;
  let hooks: HookServer;

  beforeEach(async () => {
    sockets = tempSocketDir();
    hooks = await hookServer();
  });
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
    await hooks.close();
    sockets.cleanup();
  });

  async function streaming(env: Record<string, string>): Promise<{ base: string; log: () => string }> {
    const { logger, captured } = captureLogger('info');
    runtime = createCoordinator({ plugins: [], socketDir: sockets.dir }, { logger, env: { CONTROL_SECRET: 's', ...env } });
    runtime.use(httpServer({ port: 0 })).use(keyAuth()).use(streamingControl()).use(operations({ processMetrics: false }));
    await runtime.start();
    return { base: runtime.service('http.server').baseUrl(), log: () => captured.text() };
  }

  it('7. Custom without its value, Basic without user or password: the commands API and dashboard stay closed, with one loud line', async () => {
    const cases: Array<Record<string, string>> = [
      { COMMANDS_API_AUTH: 'Custom' },
      { COMMANDS_API_AUTH: 'Custom', COMMANDS_API_AUTH_CUSTOM: '' },
      { COMMANDS_API_AUTH: 'Basic' },
      { COMMANDS_API_AUTH: 'Basic', COMMANDS_API_AUTH_USER: 'u' },
      { COMMANDS_API_AUTH: 'Bearer' },
    ];
    for (const env of cases) {
      const { base, log } = await streaming(env);
      for (const authorization of ['', 'Basic Og==', 'Basic dTo=', 'Bearer ', 'Bearer']) {
        for (const [method, target] of [['GET', '/commands/report'], ['POST', '/commands/close'], ['GET', '/status'], ['GET', '/dashboard']] as const) {
          const res = await request(`${base}${target}`, { authorization }, method);
          assert.equal(res.status, 401, `${JSON.stringify(env)} ${method} ${target} with ${JSON.stringify(authorization)}`);
        }
      }
      assert.match(log(), /"level":50,[^\n]*the commands API is CLOSED/, JSON.stringify(env));
      await runtime!.stop();
      runtime = undefined;
    }
  });

  it('8. federation peers are compared as parsed origins and exact socket paths', async () => {
    runtime = makeRuntime({ socketDir: sockets.dir }, [unixTransport(), httpServer({ port: 0 }), httpIngress({ federationPeers: ['http://127.0.0.1:1999', `unix://${sockets.dir}/peer`] })]);
    await runtime.start();
    const base = runtime.service('http.server').baseUrl();
    const hook = JSON.stringify(hooks.url('/r'));
    for (const taskURL of [
      `http://127.0.0.1:1999@127.0.0.1:${hooks.port}/`,
      `http://127.0.0.1:19992/`,
      `https://127.0.0.1:1999/`,
      `http://user:pw@127.0.0.1:1999/`,
    ]) {
      const res = await post(`${base}/`, `{"id":"f","task":"","taskURL":${JSON.stringify(taskURL)},"responseHook":${hook},"args":null}`);
      assert.equal(res.status, 403, taskURL);
      assert.match(JSON.parse(res.body).error, /is not a configured federation peer/, taskURL);
    }
    assert.equal(hooks.received.length, 0, 'a non-peer was called');
    // Unix peers (from the unix door, where local callers may use them): the exact path only.
    for (const taskURL of [`unix://${sockets.dir}/peer-other.sock`, `unix://${sockets.dir}/peer/x.sock`]) {
      const ack = await rawSend(path.join(sockets.dir, 'coordinator', 'coordinator.sock'), `{"id":"u","task":"","taskURL":${JSON.stringify(taskURL)},"responseHook":${JSON.stringify(`unix://${sockets.dir}/response/c.sock`)},"args":null}`);
      assert.match(JSON.parse(ack).error, /is not a configured federation peer/, taskURL);
    }
    // A configured unix peer is for local callers only: from HTTP it is refused too.
    const unixFromHttp = await post(`${base}/`, `{"id":"f3","task":"","taskURL":${JSON.stringify(`unix://${sockets.dir}/peer`)},"responseHook":${hook},"args":null}`);
    assert.equal(unixFromHttp.status, 403);
    assert.equal(JSON.parse(unixFromHttp.body).error, 'taskURL: unix URLs are not accepted from HTTP callers');
    // The configured peer itself is tried (nobody listens there: a provider failure, not a policy refusal).
    const peer = await post(`${base}/`, `{"id":"f2","task":"","taskURL":"http://127.0.0.1:1999/","responseHook":${hook},"args":null}`);
    assert.doesNotMatch(JSON.parse(peer.body).error, /not a configured federation peer/);
  });

  it('9. responseHooks restricts HTTP hooks to the caller and listed origins', async () => {
    runtime = makeRuntime({ socketDir: sockets.dir }, [httpServer({ port: 0 }), httpIngress({ responseHooks: ['caller', 'https://app.example:8443'] }), inProcessProvider({ tasks: { Ok: () => 1 } })]);
    await runtime.start();
    const base = runtime.service('http.server').baseUrl();
    // Task NoSuchTask: a hook the policy lets through ends in ERR_NO_PROVIDER (404), so nothing is ever posted.
    const send = (hook: string, task = 'NoSuchTask') => post(`${base}/`, `{"id":"h","task":"${task}","responseHook":${JSON.stringify(hook)},"args":null}`);
    const elsewhere = await send('http://hooks.invalid:1/r');
    assert.equal(elsewhere.status, 403);
    assert.equal(JSON.parse(elsewhere.body).error, 'responseHook: http://hooks.invalid:1 is not an allowed response hook (http-ingress responseHooks)');
    assert.equal((await send('https://app.example:8443/hook')).status, 404, 'a listed origin is allowed');
    const caller = await send(hooks.url('/r'), 'Ok');
    assert.equal(caller.status, 200);
    assert.equal(JSON.parse((await hooks.next()).body).result, 1);
  });

  it('10. dashboard sessions are bounded, expire without an open page, end at sign-out; Secure over TLS', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'coord-sess-'));
    try {
      const { cert, key } = makeCert(dir, 'sess');
      runtime = makeRuntime({ socketDir: sockets.dir }, [
        httpServer({ port: 0, tls: { port: 0, certFile: cert, keyFile: key } }),
        operations({ processMetrics: false, maxSessions: 10, sessionTtlMs: 1000, dashboardIntervalMs: 100 }),
      ], { COMMANDS_API_AUTH: 'Bearer', COMMANDS_API_AUTH_TOKEN: 'tok' });
      await runtime.start();
      const server = runtime.service('http.server');
      const base = server.baseUrl();
      for (let i = 0; i < 50; i += 1) assert.equal((await request(`${base}/dashboard`, { authorization: 'Bearer tok' })).status, 200);
      assert.ok(metricValue((await get(`${base}/metrics`)).body, 'coordinator_dashboard_sessions') <= 10);
      await delay(1500);
      assert.equal(metricValue((await get(`${base}/metrics`)).body, 'coordinator_dashboard_sessions'), 0, 'sessions outlived their TTL');

      const login = await post(`${base}/dashboard/login`, 'authorization=Bearer+tok', { 'content-type': 'application/x-www-form-urlencoded' });
      const cookie = String(login.headers['set-cookie']).split(';')[0]!;
      assert.equal((await request(`${base}/dashboard`, { cookie })).status, 200);
      const out = await post(`${base}/dashboard/logout`, '', { cookie });
      assert.equal(out.status, 303);
      assert.match(String(out.headers['set-cookie']), /Max-Age=0/);
      assert.equal((await request(`${base}/dashboard`, { cookie })).status, 401, 'the session survived sign-out');
      assert.doesNotMatch(String(login.headers['set-cookie']), /Secure/);

      const tlsPort = server.tlsAddress()!.port;
      const secureCookie = await new Promise<string>((resolve, reject) => {
        https.get({ host: '127.0.0.1', port: tlsPort, path: '/dashboard', rejectUnauthorized: false, headers: { authorization: 'Bearer tok' } }, (res) => {
          res.resume();
          resolve(String(res.headers['set-cookie']));
        }).on('error', reject);
      });
      assert.match(secureCookie, /; Secure/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('11. a Stream-Key line is redacted by its parsed name, whatever its spacing or case', () => {
    for (const line of ['Stream-Key:secret', ' Stream-Key:secret', '\tstream-key :secret', 'STREAM-KEY  :  secret']) {
      const text = `PUBLISH-REQUEST\nRequest-ID:1\n${line}\n`;
      assert.equal(arg(parseMessage(text), 'Stream-Key'), 'secret', 'the parser reads this line as the key');
      assert.doesNotMatch(redact(text), /secret/, JSON.stringify(line));
    }
    assert.match(redact('ENCODE-START\n Stream-Source-URI : rtmp://h:1/ch/thekey\n'), /rtmp:\/\/h:1\/ch\/\[redacted\]/);
  });

  it('15. stop keeps its deadline: a plugin that never stops is cut, and the log says what was cut', async () => {
    const { logger, captured } = captureLogger('info');
    const stuck = definePlugin({ name: 'stuck', apply(api) { api.onStop(() => new Promise<void>(() => undefined)); } });
    runtime = createCoordinator({ plugins: [], stopTimeoutMs: 1000 }, { logger });
    runtime.use(stuck);
    await runtime.start();
    const started = Date.now();
    await runtime.stop('test');
    const elapsed = Date.now() - started;
    runtime = undefined;
    assert.ok(elapsed < 2500, `stop took ${elapsed} ms`);
    assert.match(captured.text(), /"whatWasCut":\["plugin stop hooks"\][^\n]*"msg":"coordinator stopped; some work was cut at the deadline"/);
  });
});
