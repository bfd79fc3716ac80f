// Turn what the user wrote into a ResolvedConfig: validate, fold in the
// original coordinator's snake_case keys, apply defaults. Environment
// variables are folded in before (config/env.ts), only where an environment is given.

import path from 'node:path';
import type { CoordinatorConfig, ResolvedConfig } from './types.js';
import { coreConfigSchema } from './schema.js';
import { configError, validateAgainst, type ConfigProblem } from './validate.js';

export const CONFIG_DEFAULTS = {
  serviceName: 'coordinator',
  socketDir: '/tmp/cerana',
  externalPort: 8080,
  bindAddress: '127.0.0.1',
  requestTimeoutMs: 60_000,
  drainTimeoutMs: 10_000,
  stopTimeoutMs: 20_000,
  maxPendingBytes: 64 * 1024 * 1024,
  maxJsonDepth: 64,
  maxJsonKeys: 100_000,
  hookTimeoutMs: 30_000,
  lifecycleTimeoutMs: 30_000,
  logLevel: 'info',
} as const;

/** Where `coordinator start` keeps its files when nothing says otherwise (the library has no default). */
export const CLI_DEFAULT_DATA_DIR = '.coordinator-data';

export interface ResolveOptions {
  /** The config file, for messages and relative paths. */
  source?: string;
}

/** Validate the core part of a config; returns the problems (empty when valid). */
export function checkCoreConfig(config: CoordinatorConfig): ConfigProblem[] {
  const { plugins: _plugins, ...core } = config as CoordinatorConfig & Record<string, unknown>;
  const problems = validateAgainst(coreConfigSchema, core, 'config');
  if (config.plugins !== undefined && !Array.isArray(config.plugins)) {
    problems.push({ path: 'config.plugins', rule: 'type', message: 'must be array' });
  }
  return problems;
}

export function resolveConfig(config: CoordinatorConfig, options: ResolveOptions = {}): ResolvedConfig {
  const problems = checkCoreConfig(config);
  if (problems.length > 0) throw configError(problems, options.source);
  // request_timeout is in seconds and 0 means "the default", as in the original.
  const legacyTimeoutMs = config.request_timeout !== undefined && config.request_timeout > 0
    ? Math.round(config.request_timeout * 1000)
    : undefined;
  const baseDir = options.source ? path.dirname(options.source) : process.cwd();
  return Object.freeze({
    serviceName: config.serviceName ?? config.service_name ?? CONFIG_DEFAULTS.serviceName,
    socketDir: config.socketDir ?? config.socket_dir ?? CONFIG_DEFAULTS.socketDir,
    externalPort: config.externalPort ?? config.external_port ?? CONFIG_DEFAULTS.externalPort,
    bindAddress: config.bindAddress ?? CONFIG_DEFAULTS.bindAddress,
    requestTimeoutMs: config.requestTimeoutMs ?? legacyTimeoutMs ?? CONFIG_DEFAULTS.requestTimeoutMs,
    drainTimeoutMs: config.drainTimeoutMs ?? CONFIG_DEFAULTS.drainTimeoutMs,
    stopTimeoutMs: config.stopTimeoutMs ?? CONFIG_DEFAULTS.stopTimeoutMs,
    maxPendingBytes: config.maxPendingBytes ?? CONFIG_DEFAULTS.maxPendingBytes,
    maxJsonDepth: config.maxJsonDepth ?? CONFIG_DEFAULTS.maxJsonDepth,
    maxJsonKeys: config.maxJsonKeys ?? CONFIG_DEFAULTS.maxJsonKeys,
    hookTimeoutMs: config.hookTimeoutMs ?? CONFIG_DEFAULTS.hookTimeoutMs,
    lifecycleTimeoutMs: config.lifecycleTimeoutMs ?? CONFIG_DEFAULTS.lifecycleTimeoutMs,
    logLevel: config.logLevel ?? config.log_level ?? CONFIG_DEFAULTS.logLevel,
    dataDir: config.dataDir ? path.resolve(baseDir, config.dataDir) : undefined,
    commandsApi: Object.freeze({ ...(config.commandsApi ?? {}) }),
    pluginOptions: config.pluginOptions ?? {},
    source: options.source,
  });
}
