// The streaming-control and event-callbacks suites, unchanged, on the nats
// engine: each of their runtimes is a one-node cluster on a real nats-server
// (test/support/runtime.ts adds the cluster plugin when TEST_CLUSTER_NATS_URL
// is set). Tests of the embedded SQLite outbox itself (titled "[embedded
// outbox]") are left out: on a cluster the queue is JetStream.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { ROOT } from '../support/processes.js';
import { startNatsServer, type NatsServer } from '../support/nats.js';

const SUITES = ['test/plugins/streaming-control.test.ts', 'test/plugins/event-callbacks.test.ts'];

describe('the streaming and callback suites on the nats engine', function () {
  this.timeout(180_000);
  let nats: NatsServer;
  before(async () => { nats = await startNatsServer(); });
  after(async () => { await nats.stop(); });

  it('pass unchanged, every runtime a one-node cluster on NATS', async () => {
    const args = ['--import', 'tsx', 'node_modules/mocha/bin/mocha.js', '--no-config', '--extension', 'ts', '--timeout', '30000',
      '--require', 'test/support/unhandled.ts', '--reporter', 'dot', '--grep', '\\[embedded outbox\\]', '--invert', ...SUITES];
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, TEST_CLUSTER_NATS_URL: nats.url }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    const passing = Number(/(\d+) passing/.exec(output)?.[1] ?? 0);
    assert.equal(code, 0, output.slice(-4000));
    assert.ok(passing >= 30, `expected the suites' tests to run, got ${passing} passing:\n${output.slice(-2000)}`);
    assert.doesNotMatch(output, /\d+ (failing|pending)/);
  });
});
