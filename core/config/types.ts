// The configuration a user writes (CoordinatorConfig, typed via defineConfig)
// and the one the runtime works with (ResolvedConfig: defaults applied,
// the original coordinator's snake_case keys folded in, units in names).

import type { PluginLike } from '../plugin.js';

/** A plugin named in config: a plugin object, a built-in's name, or { name, options }. */
export type PluginEntry = PluginLike | string | { name: string; options?: Record<string, unknown> };

export interface CoordinatorConfig {
  /** Name of this coordinator; its sockets are `<socketDir>/coordinator/<serviceName>.sock`. Default 'coordinator'. */
  serviceName?: string;
  /** Directory of provider sockets. Default '/tmp/cerana' (as the original). */
  socketDir?: string;
  /** HTTP port for external requests. Default 8080. */
  externalPort?: number;
  /** Address the HTTP listeners bind. Default '127.0.0.1' (loopback; the original bound all interfaces). */
  bindAddress?: string;
  /** Default time a provider has to answer, ms. Default 60000. */
  requestTimeoutMs?: number;
  /** How long stop() waits for in-flight requests before answering them with ERR_SHUTTING_DOWN, ms. Default 10000. */
  drainTimeoutMs?: number;
  /** The whole stop (drain, then every plugin's stop) must finish within this, ms; what is left is cut and logged. Default 20000 (systemd's default stop timeout is 90 s). */
  stopTimeoutMs?: number;
  /** Time one plugin tap may take on a request hook, ms. Default 30000. */
  hookTimeoutMs?: number;
  /** Bytes of requests being received at once over every connection (HTTP bodies, unix frames); past it new work is refused with ERR_OVERLOADED. Default 64 MiB. */
  maxPendingBytes?: number;
  /** Deepest JSON nesting accepted in a request or response. Default 64. */
  maxJsonDepth?: number;
  /** Most JSON object members in one request or response. Default 100000. */
  maxJsonKeys?: number;
  /** Time one plugin may take to start or stop, ms. Default 30000. */
  lifecycleTimeoutMs?: number;
  /** 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent' (also the original's 'warning', 'panic'). Default 'info'. */
  logLevel?: string;
  /**
   * Directory for the coordinator's own files (the events database), relative
   * to the config file. COORDINATOR_DATA_DIR overrides. No default in the
   * library (nothing is written unless asked); `coordinator start` uses
   * './.coordinator-data'.
   */
  dataDir?: string;
  /**
   * The one credential of the operator and application HTTP APIs (the
   * streaming commands API, /status, /dashboard). COMMANDS_API_AUTH,
   * COMMANDS_API_AUTH_USER, _TOKEN, _PASSWORD, _CUSTOM override it. A mode
   * whose secret is missing keeps the APIs closed (401).
   */
  commandsApi?: CommandsApiConfig;
  /** Plugins, in order. Omitted: none in the library; `coordinator start` picks a set by mode (see the CLI). */
  plugins?: PluginEntry[];
  /** Options of plugins named by string, keyed by plugin name. */
  pluginOptions?: Record<string, Record<string, unknown>>;

  // The original coordinator's JSON keys, accepted as they are.
  /** @deprecated use serviceName */ service_name?: string;
  /** @deprecated use socketDir */ socket_dir?: string;
  /** @deprecated use externalPort */ external_port?: number;
  /** Seconds; 0 means the default (60 s). @deprecated use requestTimeoutMs */ request_timeout?: number;
  /** @deprecated use logLevel */ log_level?: string;
  /** Ignored (the original's own flag, kept so its files validate). */ config_file?: string;
}

export interface CommandsApiConfig {
  /** 'none' (closed), 'basic', 'bearer' or 'custom'; any case ('Bearer' as the env variable spells it). */
  auth?: string;
  /** Basic: the user name. */
  user?: string;
  /** Bearer: the token; Basic: the password when `password` is empty (as the original). */
  token?: string;
  /** Basic: the password. */
  password?: string;
  /** Custom: the exact Authorization header value. */
  custom?: string;
  /** Development only: no authentication at all. */
  open?: boolean;
}

export interface ResolvedConfig {
  readonly serviceName: string;
  readonly socketDir: string;
  readonly externalPort: number;
  readonly bindAddress: string;
  readonly requestTimeoutMs: number;
  readonly drainTimeoutMs: number;
  readonly stopTimeoutMs: number;
  readonly maxPendingBytes: number;
  readonly maxJsonDepth: number;
  readonly maxJsonKeys: number;
  readonly hookTimeoutMs: number;
  readonly lifecycleTimeoutMs: number;
  readonly logLevel: string;
  readonly dataDir: string | undefined;
  readonly commandsApi: Readonly<CommandsApiConfig>;
  readonly pluginOptions: Readonly<Record<string, Record<string, unknown>>>;
  /** Where the config came from (file path), if from a file. */
  readonly source: string | undefined;
}

export function defineConfig(config: CoordinatorConfig): CoordinatorConfig {
  return config;
}
