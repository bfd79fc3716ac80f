// Issue 11 §1: a failed start exits non-zero within a second, closes what it
// opened, and says what went wrong and what to do (the real CLI process).
import assert from 'node:assert/strict';
import net from 'node:net';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempSocketDir } from '../support/sockets.js';
import { startChild } from '../support/processes.js';

interface Run { code: number | null; output: string; msAfterFailure: number }

async function runStart(configFile: string, env: Record<string, string> = {}): Promise<Run> {
  const child = startChild(process.execPath, ['bin/coordinator.js', 'start', '--config', configFile], env);
  await child.waitFor(/start failed|coordinator did not start|coordinator ready/, 30_000).catch(() => undefined);
  const failedAt = Date.now();
  const code = await new Promise<number | null>((resolve) => {
    if (child.proc.exitCode !== null) resolve(child.proc.exitCode);
    else child.proc.once('exit', (c) => resolve(c));
    setTimeout(() => resolve(-999), 5000);
  });
  const msAfterFailure = Date.now() - failedAt;
  await child.stop('SIGKILL');
  return { code, output: child.output(), msAfterFailure };
}

describe('coordinator start: a failed start exits with the cause and the fix', function () {
  this.timeout(60_000);
  let sockets: ReturnType<typeof tempSocketDir>;
  let config: (extra: Record<string, unknown>) => string;

  beforeEach(() => {
    sockets = tempSocketDir();
    config = (extra) => {
      const file = path.join(sockets.dir, 'coordinator.config.json');
      writeFileSync(file, JSON.stringify({ serviceName: 'sf', socketDir: sockets.dir, externalPort: 0, dataDir: path.join(sockets.dir, 'data'), plugins: ['unix-transport', 'http-server', 'http-ingress'], ...extra }));
      return file;
    };
  });
  afterEach(() => sockets.cleanup());

  it('the HTTP port is in use', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const run = await runStart(config({ externalPort: port }));
      assert.equal(run.code, 1, run.output);
      assert.ok(run.msAfterFailure < 1500, `exited ${run.msAfterFailure} ms after the failure`);
      assert.match(run.output, new RegExp(`coordinator did not start: port 127\\.0\\.0\\.1:${port} is in use by another process`));
      assert.match(run.output, /fix: stop the other process \(another coordinator\?\), or choose another port/);
      assert.doesNotMatch(run.output, /every problem is listed with its path/);
      // The unix listener that had started was closed and its socket file removed.
      assert.equal(existsSync(path.join(sockets.dir, 'coordinator', 'sf.sock')), false);
    } finally {
      blocker.close();
    }
  });

  it('the unix request socket is in use by a live process', async () => {
    const socketPath = path.join(sockets.dir, 'coordinator', 'sf.sock');
    mkdirSync(path.dirname(socketPath), { recursive: true });
    const other = net.createServer();
    await new Promise<void>((resolve) => other.listen(socketPath, () => resolve()));
    try {
      const run = await runStart(config({}));
      assert.equal(run.code, 1, run.output);
      assert.ok(run.msAfterFailure < 1500);
      assert.match(run.output, /coordinator did not start: .*sf\.sock is in use by another process/);
      assert.match(run.output, /fix: stop the other coordinator, or give this one another service name/);
    } finally {
      other.close();
    }
  });

  it('the data directory cannot be created', async () => {
    const file = path.join(sockets.dir, 'a-file');
    writeFileSync(file, 'not a directory');
    const run = await runStart(config({ dataDir: path.join(file, 'data'), plugins: ['event-callbacks'] }));
    assert.equal(run.code, 1, run.output);
    assert.ok(run.msAfterFailure < 1500);
    assert.match(run.output, /coordinator did not start: cannot create or write/);
    assert.match(run.output, /fix: point dataDir \(or COORDINATOR_DATA_DIR\)/);
  });

  it('a plugin fails while starting (a TLS certificate that does not exist)', async () => {
    const run = await runStart(config({ pluginOptions: { 'http-server': { tls: { port: 0, certFile: '/nonexistent/c.crt', keyFile: '/nonexistent/c.key' } } } }));
    assert.equal(run.code, 1, run.output);
    assert.ok(run.msAfterFailure < 1500);
    assert.match(run.output, /coordinator did not start: .*\/nonexistent\/c\.crt/);
    assert.equal(existsSync(path.join(sockets.dir, 'coordinator', 'sf.sock')), false);
  });
});
