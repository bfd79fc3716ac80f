// Test helpers: the project's own tests use the testing kit (coordinator-runtime/testing).
import { createCoordinator, type CoordinatorConfig, type PluginLike } from '../../index.js';
import type { Coordinator } from '../../core/runtime.js';
import { captureLogger } from '../../testing/index.js';

export { captureLogger, delay, until, type CapturedLog } from '../../testing/index.js';

/** A runtime with a silent logger, the given plugins and environment (none by default). */
export function makeRuntime(config: CoordinatorConfig = {}, plugins: PluginLike[] = [], env: Record<string, string> = {}): Coordinator {
  const { logger } = captureLogger('silent');
  const runtime = createCoordinator({ plugins: [], ...config }, { logger, env });
  for (const plugin of plugins) runtime.use(plugin);
  return runtime;
}
