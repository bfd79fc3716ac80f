// `coordinator start` as operators run it: `coordinator status` reads it, and
// SIGTERM drains in-flight requests (none lost, exit 0); a second signal exits at once.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createClient, createProvider, type RunningProvider, type AcommClient } from '../../index.js';
import { tempSocketDir } from '../support/sockets.js';
import { ROOT, startChild, type Child } from '../support/processes.js';
import { delay } from '../support/runtime.js';
import { hookServer, post } from '../support/http.js';

describe('coordinator process: status, graceful drain, second signal', function () {
  this.timeout(60_000);
  let sockets: ReturnType<typeof tempSocketDir>;
  let coordinator: Child;
  let provider: RunningProvider;
  let client: AcommClient;
  let port = 0;

  async function startCoordinator(): Promise<void> {
    const config = path.join(sockets.dir, 'coordinator.config.json');
    writeFileSync(config, JSON.stringify({
      serviceName: 'drainer', socketDir: sockets.dir, externalPort: 0, dataDir: path.join(sockets.dir, 'data'), drainTimeoutMs: 10_000, logLevel: 'info',
      plugins: ['unix-transport', 'http-server', 'http-ingress', 'operations'],
    }));
    coordinator = startChild(process.execPath, ['bin/coordinator.js', 'start', '--config', config], { COMMANDS_API_AUTH: 'Bearer', COMMANDS_API_AUTH_TOKEN: 'st' });
    await coordinator.waitFor(/coordinator ready/);
    port = Number(/"port":(\d+),"msg":"HTTP server listening"/.exec(coordinator.output())![1]);
  }

  beforeEach(async () => {
    sockets = tempSocketDir();
    provider = createProvider({ socketDir: sockets.dir, name: 'slow', tasks: { Slow: async (args: { ms: number }, ctx) => { await sleep(args.ms, undefined, { signal: ctx.signal }); return `slept ${args.ms}`; } } });
    await provider.start();
    client = createClient({ socketDir: sockets.dir, name: 'drain-client', coordinatorUrl: `unix://${sockets.dir}/coordinator/drainer.sock`, requestTimeoutMs: 20_000 });
    await client.start();
  });
  afterEach(async () => {
    await coordinator?.stop('SIGKILL');
    await client.stop();
    await provider.stop(100);
    sockets.cleanup();
  });

  it('`coordinator status` prints the live state; unauthorized is explained', async () => {
    await startCoordinator();
    const ok = spawnSync(process.execPath, ['bin/coordinator.js', 'status', '--url', `http://127.0.0.1:${port}`, '--authorization', 'Bearer st'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^coordinator started, up \d+s, 0 request\(s\) in flight/);
    assert.match(ok.stdout, /providers \(1 task\)\n {2}Slow +1/);
    const json = spawnSync(process.execPath, ['bin/coordinator.js', 'status', '--json', '--url', `http://127.0.0.1:${port}`, '--authorization', 'Bearer st'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(json.status, 0, json.stderr);
    const snapshot = JSON.parse(json.stdout);
    assert.equal(snapshot.status, 'started');
    assert.deepEqual(snapshot.providers, [{ task: 'Slow', providers: 1 }]);
    const denied = spawnSync(process.execPath, ['bin/coordinator.js', 'status', '--url', `http://127.0.0.1:${port}`], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, COORDINATOR_AUTHORIZATION: '' } });
    assert.equal(denied.status, 1);
    assert.match(denied.stderr, /unauthorized/);
  });

  it('`coordinator plugins` prints the plugin tree of a config, as text and as JSON', () => {
    const file = path.join(sockets.dir, 'plugins.json');
    writeFileSync(file, JSON.stringify({ socketDir: sockets.dir, plugins: ['unix-transport', 'http-server', 'http-ingress'] }));
    const text = spawnSync(process.execPath, ['bin/coordinator.js', 'plugins', '--config', file], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^3 plugins, in order/);
    assert.match(text.stdout, /├─ unix-transport\n│ {4}hook onRequest \(stage 0\)/);
    assert.match(text.stdout, /└─ http-ingress {2}\(needs http-server\)\n {5}hook onRequest \(stage -100\)/);
    const json = spawnSync(process.execPath, ['bin/coordinator.js', 'plugins', '--json', '--config', file], { cwd: ROOT, encoding: 'utf8' });
    const described = JSON.parse(json.stdout) as Array<{ name: string; services: string[]; deliveries: string[] }>;
    assert.deepEqual(described.map((p) => p.name), ['unix-transport', 'http-server', 'http-ingress']);
    assert.deepEqual(described[1]!.services, ['http.server']);
    assert.deepEqual(described[2]!.deliveries, ['http', 'https']);
  });

  it('SIGTERM: in-flight requests finish, then exit 0 with a drain report', async () => {
    await startCoordinator();
    // HTTP hooks: the coordinator tracks these and relays each answer itself, so it must stay up for them.
    const hooks = await hookServer();
    try {
      for (const ms of [300, 600, 900]) {
        const ack = await post(`http://127.0.0.1:${port}/`, JSON.stringify({ id: `d${ms}`, task: 'Slow', responseHook: hooks.url('/r'), args: { ms } }));
        assert.equal(JSON.parse(ack.body).error, '');
      }
      const exit = coordinator.stop('SIGTERM');
      const delivered = await Promise.all([hooks.next(), hooks.next(), hooks.next()]);
      assert.deepEqual(delivered.map((r) => JSON.parse(r.body)).map((r) => `${r.id}:${r.error}:${r.result}`).sort(), ['d300::slept 300', 'd600::slept 600', 'd900::slept 900']);
      assert.equal(await exit, 0);
      assert.match(coordinator.output(), /"drained":3,"cut":0,[^\n]*"msg":"coordinator stopped"/);
    } finally {
      await hooks.close();
    }
  });

  it('a second signal exits at once', async () => {
    await startCoordinator();
    // A tracked request (HTTP hook) that outlives the signals, so the drain is still waiting.
    const hooks = await hookServer();
    try {
      const ack = await post(`http://127.0.0.1:${port}/`, JSON.stringify({ id: 'stuck', task: 'Slow', responseHook: hooks.url('/r'), args: { ms: 30_000 } }));
      assert.equal(JSON.parse(ack.body).error, '');
      coordinator.proc.kill('SIGTERM');
      await coordinator.waitFor(/signal received: draining/);
      const t0 = Date.now();
      const code = await coordinator.stop('SIGINT');
      assert.equal(code, 1);
      assert.ok(Date.now() - t0 < 3000);
      assert.match(coordinator.output(), /second signal: exiting at once/);
    } finally {
      await hooks.close();
    }
  });
});
