// Environment variables that set core keys, in one place. They apply only
// where the caller passes an environment (the CLI passes process.env; an
// embedding app passes one, or none and nothing in process.env touches it).
// An empty variable counts as unset.

import type { CoordinatorConfig } from './types.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** The environment without empty variables (an empty value is "unset"). */
export function cleanEnv(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined && value !== '') out[key] = value;
  return out;
}

/** Variable → core key, for docs and for `applyCoreEnv`. */
export const CORE_ENV_VARS = {
  HTTP_PORT: 'externalPort',
  BIND_ADDRESS: 'bindAddress',
  SOCKET_DIR: 'socketDir',
  COORDINATOR_DATA_DIR: 'dataDir',
  LOG_DEBUG: 'logLevel',
} as const;

/**
 * Fold the core variables into a config (they override the file): HTTP_PORT,
 * BIND_ADDRESS, SOCKET_DIR, COORDINATOR_DATA_DIR, LOG_DEBUG=YES (debug logs).
 * A value that is not valid for its key is left for validation to report.
 */
export function applyCoreEnv(config: CoordinatorConfig, env: Env): CoordinatorConfig {
  const clean = cleanEnv(env);
  const out: CoordinatorConfig = { ...config };
  if (clean.HTTP_PORT !== undefined) {
    const port = Number(clean.HTTP_PORT);
    out.externalPort = Number.isInteger(port) ? port : (clean.HTTP_PORT as unknown as number);
    delete out.external_port;
  }
  if (clean.BIND_ADDRESS !== undefined) out.bindAddress = clean.BIND_ADDRESS;
  if (clean.SOCKET_DIR !== undefined) {
    out.socketDir = clean.SOCKET_DIR;
    delete out.socket_dir;
  }
  if (clean.COORDINATOR_DATA_DIR !== undefined) out.dataDir = clean.COORDINATOR_DATA_DIR;
  if (clean.LOG_DEBUG === 'YES') {
    out.logLevel = 'debug';
    delete out.log_level;
  }
  return out;
}
