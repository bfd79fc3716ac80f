// Test helpers: a runtime with a silent (or captured) logger.
import { Writable } from 'node:stream';
import { createCoordinator, type CoordinatorConfig, type PluginLike } from '../../index.js';
import { createLogger } from '../../core/logger.js';
import type { Coordinator } from '../../core/runtime.js';

export interface CapturedLog {
  lines: Array<Record<string, unknown>>;
  text(): string;
}

export function captureLogger(level = 'debug') {
  const captured: CapturedLog = {
    lines: [],
    text() { return this.lines.map((l) => JSON.stringify(l)).join('\n'); },
  };
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line.trim()) captured.lines.push(JSON.parse(line));
      cb();
    },
  });
  return { logger: createLogger({ level, destination }), captured };
}

export function makeRuntime(config: CoordinatorConfig = {}, plugins: PluginLike[] = [], env: Record<string, string> = {}): Coordinator {
  const { logger } = captureLogger('silent');
  const runtime = createCoordinator({ plugins: [], ...config }, { logger, env });
  for (const plugin of plugins) runtime.use(plugin);
  return runtime;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll `check` until it holds; throws after `timeoutMs`. */
export async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > timeoutMs) throw new Error('condition not met in time');
    await delay(10);
  }
}
