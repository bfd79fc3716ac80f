// Test helpers: the project's own tests use the testing kit (coordinator-runtime/testing).
import { randomBytes } from 'node:crypto';
import { createCoordinator, cluster, type CoordinatorConfig, type PluginLike } from '../../index.js';
import type { Coordinator } from '../../core/runtime.js';
import { toPluginInstance } from '../../core/plugin.js';
import { captureLogger } from '../../testing/index.js';

export { captureLogger, delay, until, type CapturedLog } from '../../testing/index.js';

/**
 * With TEST_CLUSTER_NATS_URL set (test/e2e/suites-on-nats.test.ts sets it), a
 * runtime with the streaming or callback plugins runs as a one-node cluster on
 * that NATS (the cluster plugin's nats engine, its own bucket prefix), so the
 * same suites prove both engines.
 */
const CLUSTERED = new Set(['event-callbacks', 'streaming-control']);

function onNats(plugins: PluginLike[]): PluginLike[] {
  const url = process.env.TEST_CLUSTER_NATS_URL;
  const names = plugins.map((p) => toPluginInstance(p).definition.name);
  if (!url || names.includes('cluster') || !names.some((n) => CLUSTERED.has(n))) return plugins;
  const id = randomBytes(6).toString('hex');
  return [cluster({ engine: 'nats', servers: [url], nodeId: `n${id}`, prefix: `t${id}`, heartbeatMs: 200, deadAfterMs: 2000 }), ...plugins];
}

/** A runtime with a silent logger, the given plugins and environment (none by default). */
export function makeRuntime(config: CoordinatorConfig = {}, plugins: PluginLike[] = [], env: Record<string, string> = {}): Coordinator {
  const { logger } = captureLogger('silent');
  const runtime = createCoordinator({ plugins: [], ...config }, { logger, env });
  for (const plugin of onNats(plugins)) runtime.use(plugin);
  return runtime;
}
