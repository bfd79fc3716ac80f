// Issue 11 §3 and §5 with the real CLI and real sockets: each original's
// users start it their way (env only; JSON config and flags), several
// instances per host, streaming paths answer as the streaming original,
// settings that cannot surprise.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createCoordinator, httpServer, httpIngress, inProcessProvider, keyAuth, operations, streamingControl, type HttpServerService } from '../../index.js';
import { tempSocketDir } from '../support/sockets.js';
import { ROOT, startChild, type Child } from '../support/processes.js';
import { get, post } from '../support/http.js';
import { captureLogger } from '../support/runtime.js';

function portOf(child: Child): number {
  return Number(/"port":(\d+),"msg":"HTTP server listening"/.exec(child.output())![1]);
}

describe('drop-in: modes, paths and settings', function () {
  this.timeout(60_000);
  let sockets: ReturnType<typeof tempSocketDir>;
  const children: Child[] = [];
  const cleanEnv = { CONTROL_SECRET: '', KEY_VERIFICATION_URL: '', EVENT_CALLBACK_URL: '', COMMANDS_API_AUTH: '', HTTP_PORT: '', BIND_ADDRESS: '', SOCKET_DIR: '', COORDINATOR_MODE: '' };

  beforeEach(() => { sockets = tempSocketDir(); });
  afterEach(async () => {
    for (const c of children.splice(0)) await c.stop('SIGKILL');
    sockets.cleanup();
  });

  async function cli(args: string[], env: Record<string, string>, cwd = sockets.dir): Promise<Child> {
    // Run where no coordinator.config.* lies (the project root has the bundled one).
    const child = startChild(process.execPath, [path.join(ROOT, 'bin', 'coordinator.js'), 'start', ...args], { ...cleanEnv, COORDINATOR_DATA_DIR: path.join(cwd, 'data'), ...env }, cwd);
    children.push(child);
    await child.waitFor(/coordinator ready/, 30_000);
    return child;
  }

  it('the streaming side alone from environment variables, twice on one host; no acomm socket is bound', async () => {
    const env = { CONTROL_SECRET: 'secret', HTTP_PORT: '0', SOCKET_DIR: sockets.dir, COMMANDS_API_AUTH: 'Bearer', COMMANDS_API_AUTH_TOKEN: 't' };
    const first = await cli([], env);
    const second = await cli([], { ...env, COORDINATOR_DATA_DIR: path.join(sockets.dir, 'data2') });
    for (const c of [first, second]) {
      assert.match(c.output(), /"mode":"streaming"[^\n]*"msg":"running the streaming side"/);
      const port = portOf(c);
      const banner = await get(`http://127.0.0.1:${port}/`);
      assert.equal(banner.body, 'Coordinator streaming server - Version 1.0.0');
      const report = await post(`http://127.0.0.1:${port}/commands/report`, '', { authorization: 'Bearer t' }, 'GET');
      assert.equal(report.status, 200);
    }
    assert.notEqual(portOf(first), portOf(second));
    assert.equal(existsSync(path.join(sockets.dir, 'coordinator')), false, 'the acomm request socket was bound');
  });

  it('the acomm side alone from the original JSON config and flags; federation peers in the same file', async () => {
    const config = path.join(sockets.dir, 'original.json');
    writeFileSync(config, JSON.stringify({ service_name: 'orig', socket_dir: sockets.dir, external_port: 0, request_timeout: 5, pluginOptions: { 'http-ingress': { federationPeers: ['http://127.0.0.1:1'] } } }));
    const child = await cli(['-c', config, '-n', 'flagged'], {});
    assert.match(child.output(), /"mode":"acomm"/);
    assert.ok(existsSync(path.join(sockets.dir, 'coordinator', 'flagged.sock')), 'the flag did not win over the file');
    const port = portOf(child);
    // No streaming side: its paths are the acomm ingress's (a GET with no body is an unmarshal error).
    const ws = await get(`http://127.0.0.1:${port}/ws/control/hls`);
    assert.match(ws.body, /failed to unmarshal request/);
    // The federation peer from the JSON file is used (the port is closed: a provider failure, not a policy refusal).
    const forwarded = await post(`http://127.0.0.1:${port}/`, '{"id":"f","taskURL":"http://127.0.0.1:1/","responseHook":"http://127.0.0.1:9/r"}');
    assert.doesNotMatch(JSON.parse(forwarded.body).error, /not a configured federation peer/);
  });

  it('on one shared server the streaming paths answer as the streaming original; POST / still reaches the acomm ingress', async () => {
    const child = await cli(['--mode', 'all', '-s', sockets.dir, '-p', '0'], { CONTROL_SECRET: 'secret' });
    const base = `http://127.0.0.1:${portOf(child)}`;
    const ws = await get(`${base}/ws/control/hls`);
    assert.equal(ws.status, 403);
    assert.equal(ws.body, 'Invalid authentication token.');
    for (const target of ['/commands/nope', '/ws/control/hls?v=1', '/ws/other']) {
      const res = await get(`${base}${target}`);
      assert.equal(res.status, 404, target);
      assert.equal(res.body, 'Not found.', target);
    }
    const ingress = await post(`${base}/`, '{"id":"x1","task":"NoSuchTask","responseHook":"http://127.0.0.1:9/r"}', { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(JSON.parse(ingress.body).id, 'x1');
    assert.equal(JSON.parse(ingress.body).error, 'no providers available for task');
  });

  it('an empty BIND_ADDRESS is unset: loopback, never every interface', async () => {
    const child = await cli(['--mode', 'acomm', '-s', sockets.dir, '-p', '0'], { BIND_ADDRESS: '' });
    assert.match(child.output(), /"host":"127\.0\.0\.1","port":\d+,"msg":"HTTP server listening"/);
  });

  it('process.env never overrides an embedding app; env applies only where passed', async () => {
    const saved = { HTTP_PORT: process.env.HTTP_PORT, BIND_ADDRESS: process.env.BIND_ADDRESS };
    process.env.HTTP_PORT = '1';
    process.env.BIND_ADDRESS = '0.0.0.0';
    try {
      const embedded = createCoordinator({ plugins: [httpServer()], externalPort: 0, logLevel: 'silent' });
      await embedded.start();
      const address = embedded.service('http.server').address()!;
      await embedded.stop();
      assert.equal(address.host, '127.0.0.1');
      assert.notEqual(address.port, 1);
      // Passed on purpose, the environment applies.
      assert.equal(createCoordinator({ plugins: [], logLevel: 'silent' }, { env: { SOCKET_DIR: '/tmp/elsewhere' } }).config.socketDir, '/tmp/elsewhere');
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
  });

  it('the library registers no plugin and writes nothing into the working directory unless asked', async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'coord-lib-'));
    const saved = process.cwd();
    process.chdir(cwd);
    try {
      const runtime = createCoordinator({ logLevel: 'silent' });
      await runtime.start();
      assert.deepEqual(runtime.pluginNames, []);
      await runtime.stop();
      assert.deepEqual(readdirSync(cwd), []);
      // Asked for the outbox without a place for it: a clear error, not a file in the working directory.
      const { logger } = captureLogger('silent');
      const withEvents = createCoordinator({ plugins: ['event-callbacks'] }, { logger });
      await assert.rejects(withEvents.start(), /event-callbacks keeps its durable outbox on disk and has no place for it: set dataDir/);
      assert.deepEqual(readdirSync(cwd), []);
    } finally {
      process.chdir(saved);
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('one commands API credential (config.commandsApi, any case of the mode) serves the commands API, /status and the dashboard', async () => {
    const { logger } = captureLogger('silent');
    const runtime = createCoordinator({ plugins: [], externalPort: 0, commandsApi: { auth: 'Bearer', token: 'once' } }, { logger, env: { CONTROL_SECRET: 's' } });
    runtime.use(httpServer()).use(keyAuth()).use(streamingControl()).use(operations({ processMetrics: false })).use(httpIngress()).use(inProcessProvider({ tasks: {} }));
    await runtime.start();
    try {
      const base = runtime.service('http.server').baseUrl();
      for (const [method, target] of [['GET', '/commands/report'], ['GET', '/status'], ['GET', '/dashboard']] as const) {
        assert.equal((await post(`${base}${target}`, '', { authorization: 'Bearer once' }, method)).status, 200, target);
        assert.equal((await post(`${base}${target}`, '', { authorization: 'Bearer other' }, method)).status, 401, target);
      }
    } finally {
      await runtime.stop();
    }
  });
});
