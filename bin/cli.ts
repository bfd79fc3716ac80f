// The `coordinator` command: a thin shell over the public API.
//   coordinator start [--config FILE] [original coordinator flags]
//   coordinator validate [--config FILE]
//   coordinator --help | --version

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { checkConfig, createCoordinator, loadConfig, isCoordinatorError, resolveConfig, type CoordinatorConfig } from '../index.js';
import { fetchStatus, formatSnapshot } from './status.js';
import { describeStartFailure } from './start-failure.js';

const HELP = `Usage: coordinator <command> [options]

Commands:
  start        Start the coordinator (default config: ./coordinator.config.* or embedded defaults)
  validate     Check the config and print every problem with its path and rule (exit 1 if any)
  status       Print the live state of a running coordinator (--url, --authorization)

Options:
  --config FILE, -c, --config_file FILE   Config file (.ts, .js, .json, .yaml)
  -n, --service_name NAME                 Service name (sockets are <socket_dir>/coordinator/NAME.sock)
  -s, --socket_dir DIR                    Socket directory (default /tmp/cerana)
  -p, --external_port PORT                HTTP port (default 8080)
  -t, --request_timeout SECONDS           Default request timeout (0 = 60 s)
  -l, --log_level LEVEL                   trace|debug|info|warn|error|fatal
  --url URL                               status: the coordinator's HTTP address (default from the config)
  --authorization VALUE                   status: Authorization header (or COORDINATOR_AUTHORIZATION)
  -h, --help                              Show this help
  -v, --version                           Show the version

Flags override the config file, as with the original coordinator.
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
      url: { type: 'string' },
      authorization: { type: 'string' },
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

/** Flags override the file, as viper did for the original. */
function applyFlags(config: CoordinatorConfig, flags: Flags): CoordinatorConfig {
  const merged: CoordinatorConfig = { ...config };
  if (flags.service_name !== undefined) { merged.serviceName = flags.service_name; delete merged.service_name; }
  if (flags.socket_dir !== undefined) { merged.socketDir = flags.socket_dir; delete merged.socket_dir; }
  const port = numberFlag(flags.external_port, 'external_port');
  if (port !== undefined) { merged.externalPort = port; delete merged.external_port; }
  const timeout = numberFlag(flags.request_timeout, 'request_timeout');
  if (timeout !== undefined) {
    delete merged.requestTimeoutMs;
    merged.request_timeout = timeout;
  }
  if (flags.log_level !== undefined) { merged.logLevel = flags.log_level; delete merged.log_level; }
  // LOG_DEBUG=YES (the streaming coordinator's switch) turns on debug logs unless a level flag says otherwise.
  else if (process.env.LOG_DEBUG === 'YES') { merged.logLevel = 'debug'; delete merged.log_level; }
  return merged;
}

async function load(flags: Flags): Promise<{ config: CoordinatorConfig; source: string | undefined }> {
  const file = flags.config ?? flags.config_file;
  const loaded = await loadConfig(file);
  return { config: applyFlags(loaded.config, flags), source: loaded.filepath };
}

async function validate(flags: Flags, io: CliIO): Promise<number> {
  const { config, source } = await load(flags);
  const problems = checkConfig(config);
  const where = source ?? 'embedded defaults';
  if (problems.length === 0) {
    io.out(`${where}: configuration is valid\n`);
    return 0;
  }
  io.err(`${where}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n`);
  for (const p of problems) io.err(`  ${p.path}: ${p.message} [rule: ${p.rule}]\n`);
  return 1;
}

async function status(flags: Flags, io: CliIO): Promise<number> {
  let url = flags.url ?? process.env.COORDINATOR_URL;
  if (!url) {
    const { config, source } = await load(flags);
    const resolved = resolveConfig(config, source ? { source } : {});
    const port = process.env.HTTP_PORT ?? String(resolved.externalPort);
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
  io.out(formatSnapshot(result.snapshot));
  return 0;
}

async function start(flags: Flags, io: CliIO): Promise<number> {
  const { config, source } = await load(flags);
  const problems = checkConfig(config);
  if (problems.length > 0) {
    io.err(`${source ?? 'config'}: ${problems.length} problem(s); nothing started\n`);
    for (const p of problems) io.err(`  ${p.path}: ${p.message} [rule: ${p.rule}]\n`);
    return 1;
  }
  const runtime = createCoordinator(config, source ? { source } : {});
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
