// coordinator-runtime/testing: the kit for testing plugins (and the
// project's own tests use it). A runtime with the plugins you choose and a
// captured log, requests injected through the whole pipeline, HTTP requests
// injected into the HTTP server without a port (light-my-request, as
// Fastify's inject), a fake unix provider and fake control-channel peers.

import { Writable } from 'node:stream';
import { inject as lightInject, type InjectOptions, type Response as LightResponse } from 'light-my-request';
import { createCoordinator, createProvider, type CoordinatorConfig, type PluginLike, type ProviderOptions, type RunningProvider } from '../index.js';
import { createLogger, type Logger } from '../core/logger.js';
import type { Coordinator } from '../core/runtime.js';
import type { Request, Response } from '../core/model.js';
import type { DispatchOptions } from '../core/runtime.js';
import { HTTP_SERVER_SERVICE, type HttpServerService } from '../plugins/http-server/index.js';

export { ControlPeer, mintToken, parsePeerMessage, type PeerMessage } from './control-peer.js';

/** Log lines written by a runtime under test, parsed. */
export interface CapturedLog {
  lines: Array<Record<string, unknown>>;
  /** Every line as JSON text, one per line. */
  text(): string;
  /** Lines whose `msg` matches. */
  find(msg: string | RegExp): Array<Record<string, unknown>>;
}

/** A logger whose lines are kept in memory (`level`: 'debug' by default). */
export function captureLogger(level = 'debug'): { logger: Logger; captured: CapturedLog } {
  const captured: CapturedLog = {
    lines: [],
    text() { return this.lines.map((l) => JSON.stringify(l)).join('\n'); },
    find(msg) { return this.lines.filter((l) => (typeof msg === 'string' ? l.msg === msg : msg.test(String(l.msg)))); },
  };
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line.trim()) captured.lines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: createLogger({ level, destination }), captured };
}

export interface TestRuntimeOptions {
  /** Plugins to register, in order. */
  plugins?: PluginLike[];
  /** Core config (no plugins are taken from it unless listed). */
  config?: CoordinatorConfig;
  /** Environment variables the plugins see (none by default). */
  env?: Record<string, string>;
  /** Level of the captured log; default 'debug'. */
  logLevel?: string;
}

export interface TestRuntime {
  runtime: Coordinator;
  logs: CapturedLog;
  /** Send a request through the whole pipeline and await its response. */
  request(fields: Partial<Request> & Pick<Request, 'task'>, options?: DispatchOptions): Promise<Response>;
  /** Inject an HTTP request into the http-server plugin's routes (no port needed). */
  http(options: InjectOptions | string): Promise<LightResponse>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A runtime for tests: the plugins you pass, a captured log, no environment
 * and (unless a plugin binds one) no socket. Add `httpServer({ listen: false })`
 * to test HTTP routes with `http()` without a port.
 */
export function createTestRuntime(options: TestRuntimeOptions = {}): TestRuntime {
  const { logger, captured } = captureLogger(options.logLevel ?? 'debug');
  const runtime = createCoordinator({ ...(options.config ?? {}), plugins: [] }, { logger, env: options.env ?? {} });
  for (const plugin of options.plugins ?? []) runtime.use(plugin);
  return {
    runtime,
    logs: captured,
    request: (fields, dispatch) => runtime.inject(fields, dispatch),
    http(inject) {
      const server = runtime.service(HTTP_SERVER_SERVICE);
      return lightInject(server.dispatch, inject);
    },
    start: () => runtime.start(),
    stop: () => runtime.stop(),
  };
}

/**
 * A provider process stand-in: serves `tasks` on unix sockets under
 * `socketDir`, through the provider SDK (the acomm wire format, as Go providers).
 */
export async function startFakeProvider(options: ProviderOptions): Promise<RunningProvider> {
  const provider = createProvider(options);
  await provider.start();
  return provider;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll `check` (which may be async) until it holds; throws after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > timeoutMs) throw new Error('condition not met in time');
    await delay(10);
  }
}
