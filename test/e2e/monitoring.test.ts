// The monitoring files people plug in (docs/monitoring): the alert rules
// pass `promtool check rules` (Debian's prometheus package, installed by
// .ci/run), and every metric the rules and the Grafana dashboard use is one
// the coordinator exposes on /metrics.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventCallbacks, httpIngress, httpServer, keyAuth, operations, streamingControl, streamProxy, unixTransport } from '../../index.js';
import { makeRuntime } from '../support/runtime.js';
import { tempSocketDir } from '../support/sockets.js';
import { get } from '../support/http.js';

const docs = path.resolve(import.meta.dirname, '..', '..', 'docs', 'monitoring');

/** Metric names in PromQL text, histogram series folded to their metric. */
function metricsIn(text: string): Set<string> {
  return new Set([...text.matchAll(/\b(coordinator_[a-z0-9_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, '')));
}

describe('monitoring files', function () {
  this.timeout(30_000);

  it('promtool accepts the alert rules', () => {
    const run = spawnSync('promtool', ['check', 'rules', path.join(docs, 'alerts.yml')], { encoding: 'utf8' });
    assert.equal(run.error, undefined, 'promtool is missing: install Debian\'s prometheus package (.ci/run does)');
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /SUCCESS: \d+ rules found/);
  });

  it('the alert rules cover what an operator is paged for', () => {
    const rules = readFileSync(path.join(docs, 'alerts.yml'), 'utf8');
    for (const alert of ['CoordinatorNoProviderForTask', 'CoordinatorErrorRatioHigh', 'CoordinatorLatencyP99High', 'CoordinatorCallbackOutboxStale', 'CoordinatorCallbackDeadLetters', 'CoordinatorEncoderCapacityExhausted', 'CoordinatorControlSessionsDropping', 'CoordinatorRestarted']) {
      assert.match(rules, new RegExp(`alert: ${alert}\\b`));
    }
  });

  it('every metric the rules and the dashboard use is exposed on /metrics', async () => {
    const sockets = tempSocketDir();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'coord-monitoring-'));
    const runtime = makeRuntime({ socketDir: sockets.dir, dataDir }, [
      unixTransport(), httpServer({ port: 0 }), httpIngress(), streamProxy(), keyAuth(), eventCallbacks(), streamingControl(), operations(),
    ]);
    await runtime.start();
    try {
      const text = (await get(`${runtime.service('http.server').baseUrl()}/metrics`)).body;
      const exposed = new Set(text.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]!));
      const dashboard = readFileSync(path.join(docs, 'grafana-dashboard.json'), 'utf8');
      assert.ok(JSON.parse(dashboard).panels.length >= 10);
      const used = new Set([...metricsIn(readFileSync(path.join(docs, 'alerts.yml'), 'utf8')), ...metricsIn(dashboard)]);
      assert.deepEqual([...used].filter((m) => !exposed.has(m)), [], 'used but not exposed');
    } finally {
      await runtime.stop();
      rmSync(dataDir, { recursive: true, force: true });
      sockets.cleanup();
    }
  });
});
