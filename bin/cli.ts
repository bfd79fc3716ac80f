// The `coordinator` command: a thin shell over the public API.
//   coordinator start [--config FILE] [original coordinator flags]
//   coordinator validate [--config FILE]
//   coordinator --help | --version

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { parseArgs } from 'node:util';
// Narrow imports, not the package index: only the configured plugins' modules load (see builtin-loaders.ts).
import { checkConfig, createCoordinatorWith, effectiveConfig, type PluginCatalog } from '../core/create.js';
import { loadConfig } from '../core/config/load.js';
import { resolveConfig, CONFIG_DEFAULTS } from '../core/config/resolve.js';
import type { CoordinatorConfig, PluginEntry } from '../core/config/types.js';
import { isCoordinatorError } from '../core/errors.js';
import { BUILTIN_NAMES, PLUGIN_SETS, loadBuiltinPlugins } from '../plugins/builtin-loaders.js';
import { formatProblem } from '../core/config/validate.js';
import { CLI_DEFAULT_DATA_DIR } from '../core/config/resolve.js';
import { tracingRequested } from '../plugins/tracing/env.js';
import { chooseMode, type ModeChoice } from './mode.js';
import { resolvePluginPackages } from './plugin-packages.js';
import { formatPlugins } from './plugins-tree.js';
import { createLogger } from '../core/logger.js';
import { fetchStatus, formatSnapshot } from './status.js';
import { describeStartFailure } from './start-failure.js';
import { startupDone } from './startup-heap.js';

const HELP = `Usage: coordinator <command> [options]

Commands:
  start        Start the coordinator (default config: ./coordinator.config.* or embedded defaults)
  validate     Check the config and print every problem with its path and rule (exit 1 if any)
  status       Print the live state of a running coordinator (--url, --authorization, --json)
  plugins      Print the configured plugins: the hooks each taps (with stages), its services, deliveries

Options:
  --config FILE, -c, --config_file FILE   Config file (.ts, .js, .json, .yaml)
  -n, --service_name NAME                 Service name (sockets are <socket_dir>/coordinator/NAME.sock)
  -s, --socket_dir DIR                    Socket directory (default /tmp/cerana)
  -p, --external_port PORT                HTTP port (default 8080)
  -t, --request_timeout SECONDS           Default request timeout (0 = 60 s)
  -l, --log_level LEVEL                   trace|debug|info|warn|error|fatal
  --mode all|acomm|streaming              Plugin set when the config lists none (COORDINATOR_MODE);
                                          default: inferred from the originals' settings present
  --url URL                               status: the coordinator's HTTP address (default from the config)
  --authorization VALUE                   status: Authorization header (or COORDINATOR_AUTHORIZATION)
  --json                                  status, plugins: print JSON
  -h, --help                              Show this help
  -v, --version                           Show the version

Precedence: flags > environment variables > config file > defaults.
Without a config: the acomm side alone when only the original acomm
coordinator's keys or flags are given, the streaming side alone when only the
streaming coordinator's variables are set (CONTROL_SECRET, HTTP_PORT, …),
both otherwise.
`;

function packageVersion(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const candidate of ['../package.json', '../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(path.resolve(here, candidate), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'coordinator-runtime' && pkg.version) return pkg.version;
    } catch {
      // try the next location (source tree vs dist/)
    }
  }
  return 'unknown';
}

export interface CliIO {
  out: (text: string) => void;
  err: (text: string) => void;
}

const defaultIO: CliIO = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      config: { type: 'string', short: 'c' },
      config_file: { type: 'string' },
      service_name: { type: 'string', short: 'n' },
      socket_dir: { type: 'string', short: 's' },
      external_port: { type: 'string', short: 'p' },
      request_timeout: { type: 'string', short: 't' },
      log_level: { type: 'string', short: 'l' },
      mode: { type: 'string' },
      url: { type: 'string' },
      authorization: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  });
}

type Flags = ReturnType<typeof parse>['values'];

function numberFlag(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got ${JSON.stringify(value)}`);
  return n;
}

/** The flags as config keys: they win over the environment and the file, as viper did for the original. */
function flagOverrides(flags: Flags): CoordinatorConfig {
  const overrides: CoordinatorConfig = {};
  if (flags.service_name !== undefined) overrides.serviceName = flags.service_name;
  if (flags.socket_dir !== undefined) overrides.socketDir = flags.socket_dir;
  const port = numberFlag(flags.external_port, 'external_port');
  if (port !== undefined) overrides.externalPort = port;
  const timeout = numberFlag(flags.request_timeout, 'request_timeout');
  // request_timeout is in seconds and 0 means "the default", as in the original.
  if (timeout !== undefined) overrides.requestTimeoutMs = timeout > 0 ? Math.round(timeout * 1000) : CONFIG_DEFAULTS.requestTimeoutMs;
  if (flags.log_level !== undefined) overrides.logLevel = flags.log_level;
  return overrides;
}

const ACOMM_FLAGS = ['service_name', 'socket_dir', 'external_port', 'request_timeout', 'log_level'] as const;

interface Prepared {
  config: CoordinatorConfig;
  source: string | undefined;
  overrides: CoordinatorConfig;
  env: NodeJS.ProcessEnv;
  mode: ModeChoice | undefined;
  /** The built-in plugins the config names, loaded. */
  catalog: PluginCatalog;
}

/** The built-in names a plugin list uses (by name, or { name, options }). */
function namesIn(entries: PluginEntry[] | undefined): string[] {
  return (entries ?? []).flatMap((entry) => typeof entry === 'string' ? [entry]
    : typeof entry === 'object' && entry !== null && !('definition' in entry) && typeof (entry as { name?: unknown }).name === 'string' ? [(entry as { name: string }).name] : []);
}

/** The file, the plugin set (by mode when the file lists none), the environment and the flags. */
async function prepare(flags: Flags): Promise<Prepared> {
  const file = flags.config ?? flags.config_file;
  const loaded = await loadConfig(file);
  const env = process.env;
  const config: CoordinatorConfig = { ...loaded.config };
  let mode: ModeChoice | undefined;
  if (config.plugins === undefined) {
    mode = chooseMode(config, ACOMM_FLAGS.filter((f) => flags[f] !== undefined), env, flags.mode);
    config.plugins = [...PLUGIN_SETS[mode.mode]];
    // OpenTelemetry's standard variables turn tracing on (its packages load only then).
    if (tracingRequested(env)) config.plugins.push('tracing');
    // NATS_URL makes this coordinator one of a cluster (see docs/scale-out.md); the cluster plugin comes first, the others use its state.
    if (env.NATS_URL) config.plugins.unshift('cluster');
  } else if (Array.isArray(config.plugins)) {
    // Plugins published as packages ('coordinator-plugin-…'), loaded by name.
    config.plugins = await resolvePluginPackages(config.plugins, loaded.filepath);
  }
  // The CLI keeps its files in ./.coordinator-data unless told (the library has no default).
  config.dataDir ??= CLI_DEFAULT_DATA_DIR;
  const catalog: PluginCatalog = { builtins: await loadBuiltinPlugins(namesIn(Array.isArray(config.plugins) ? config.plugins : undefined)), defaults: [], known: BUILTIN_NAMES };
  return { config, source: loaded.filepath, overrides: flagOverrides(flags), env, mode, catalog };
}

async function validate(flags: Flags, io: CliIO): Promise<number> {
  const { config, source, overrides, env, catalog } = await prepare(flags);
  const found = checkConfig(config, catalog, { env, overrides, ...(source ? { source } : {}) });
  const problems = found.filter((p) => p.severity !== 'warning');
  const warnings = found.filter((p) => p.severity === 'warning');
  const where = source ?? 'embedded defaults';
  for (const w of warnings) io.err(`warning: ${formatProblem(w)}\n`);
  if (problems.length === 0) {
    io.out(`${where}: configuration is valid${warnings.length > 0 ? ` (${warnings.length} warning${warnings.length === 1 ? '' : 's'})` : ''}\n`);
    return 0;
  }
  io.err(`${where}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n`);
  for (const p of problems) io.err(`  ${formatProblem(p)}\n`);
  return 1;
}

async function status(flags: Flags, io: CliIO): Promise<number> {
  let url = flags.url ?? process.env.COORDINATOR_URL;
  if (!url) {
    const { config, source, overrides, env } = await prepare(flags);
    const resolved = resolveConfig(effectiveConfig(config, { env, overrides }), source ? { source } : {});
    const port = String(resolved.externalPort);
    const host = resolved.bindAddress === '0.0.0.0' || resolved.bindAddress === '::' ? '127.0.0.1' : resolved.bindAddress;
    url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }
  const token = process.env.COMMANDS_API_AUTH_TOKEN;
  const authorization = flags.authorization ?? process.env.COORDINATOR_AUTHORIZATION
    ?? (token && process.env.COMMANDS_API_AUTH?.toLowerCase() === 'bearer' ? `Bearer ${token}` : undefined);
  const result = await fetchStatus({ url, authorization });
  if (!result.ok) {
    io.err(`${result.message}\n`);
    return 1;
  }
  io.out(flags.json ? `${JSON.stringify(result.snapshot, null, 2)}\n` : formatSnapshot(result.snapshot));
  return 0;
}

async function plugins(flags: Flags, io: CliIO): Promise<number> {
  const { config, source, overrides, env, catalog } = await prepare(flags);
  const runtime = createCoordinatorWith(catalog, config, { env, overrides, ...(source ? { source } : {}), logger: createLogger({ level: 'silent' }) });
  await runtime.applyPlugins();
  const described = runtime.describePlugins();
  io.out(flags.json ? `${JSON.stringify(described, null, 2)}\n` : formatPlugins(described));
  return 0;
}

async function start(flags: Flags, io: CliIO): Promise<number> {
  const { config, source, overrides, env, mode, catalog } = await prepare(flags);
  const problems = checkConfig(config, catalog, { env, overrides, ...(source ? { source } : {}) }).filter((p) => p.severity !== 'warning');
  if (problems.length > 0) {
    io.err(`${source ?? 'config'}: ${problems.length} problem${problems.length === 1 ? '' : 's'}; nothing started\n`);
    for (const p of problems) io.err(`  ${formatProblem(p)}\n`);
    return 1;
  }
  const runtime = createCoordinatorWith(catalog, config, { env, overrides, ...(source ? { source } : {}) });
  if (mode) runtime.log.info({ mode: mode.mode, reason: mode.reason, plugins: config.plugins }, `running the ${mode.mode === 'all' ? 'acomm and streaming sides' : `${mode.mode} side`}`);
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      runtime.log.warn({ signal }, 'second signal: exiting at once');
      process.exit(1);
    }
    runtime.log.info({ signal }, 'signal received: draining');
    runtime.stop(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        runtime.log.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await runtime.start();
    startupDone();
  } catch (err) {
    // start() has stopped what had started (listeners closed, files closed): say why and exit non-zero.
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    const failure = describeStartFailure(err);
    runtime.log.error({ err }, 'start failed');
    io.err(`coordinator did not start: ${failure.cause}\nfix: ${failure.fix}\n`);
    return 1;
  }
  // The process serves until a signal, even when no plugin holds a listener open.
  // (process.exit after stop ends it.)
  setInterval(() => undefined, 1 << 30);
  runtime.log.info({ config: source ?? 'embedded defaults', version: packageVersion() }, 'coordinator ready');
  return -1; // keep running until a signal
}

/** Run the CLI. Returns the exit code, or -1 when the process keeps running (start). */
export async function main(argv: string[], io: CliIO = defaultIO): Promise<number> {
  let flags: Flags;
  let positionals: string[];
  try {
    ({ values: flags, positionals } = parse(argv));
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (flags.version) {
    io.out(`${packageVersion()}\n`);
    return 0;
  }
  const command = positionals[0];
  if (flags.help || !command) {
    io.out(HELP);
    return command || flags.help ? 0 : 2;
  }
  try {
    if (command === 'start') return await start(flags, io);
    if (command === 'validate') return await validate(flags, io);
    if (command === 'status') return await status(flags, io);
    if (command === 'plugins') return await plugins(flags, io);
    io.err(`unknown command ${JSON.stringify(command)}\n\n${HELP}`);
    return 2;
  } catch (err) {
    if (isCoordinatorError(err)) {
      io.err(`${err.code}: ${err.message}\n`);
      if (err.hint) io.err(`hint: ${err.hint}\n`);
    } else {
      io.err(`${(err as Error).stack ?? String(err)}\n`);
    }
    return 1;
  }
}

const invokedDirectly = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  main(process.argv.slice(2)).then((code) => {
    if (code >= 0) process.exitCode = code;
  }, (err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exitCode = 1;
  });
}
