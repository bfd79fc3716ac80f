// One root pino logger; plugins get a child each, requests a child when they log.
// Secrets never reach the log: known secret-bearing paths are redacted.

import { createRequire } from 'node:module';
import { pino, type Logger as PinoLogger, type LoggerOptions } from 'pino';

export type Logger = PinoLogger;

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

/** Map the original coordinator's level names (logrus) onto pino's. */
export function normalizeLogLevel(level: string): LogLevel {
  const lowered = level.toLowerCase();
  if (lowered === 'warning') return 'warn';
  if (lowered === 'panic') return 'fatal';
  return lowered as LogLevel;
}

export const REDACT_PATHS = [
  'authorization', '*.authorization', 'headers.authorization', '*.headers.authorization',
  'secret', '*.secret', 'key', '*.key', 'password', '*.password', 'token', '*.token',
  'headers["x-streaming-key"]', '*.headers["x-streaming-key"]', 'headers["x-control-auth-token"]',
];

export interface LoggerSetup {
  level: string;
  /** Write here instead of stdout (tests, embedding apps). */
  destination?: NodeJS.WritableStream;
  /** 'json' (default when not a terminal), 'pretty' (default in a terminal). */
  format?: 'json' | 'pretty';
  name?: string;
}

export function createLogger(setup: LoggerSetup): Logger {
  const options: LoggerOptions = {
    level: normalizeLogLevel(setup.level),
    name: setup.name ?? 'coordinator',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
  };
  if (setup.destination) return pino(options, setup.destination as pino.DestinationStream);
  const format = setup.format ?? (process.stdout.isTTY && process.env.LOG_FORMAT !== 'json' ? 'pretty' : 'json');
  if (format === 'pretty') {
    const pretty = prettyStream();
    if (pretty) return pino(options, pretty);
  }
  return pino(options);
}

/** pino-pretty, loaded only for a terminal (an optional dependency): JSON when it is not installed. */
function prettyStream(): pino.DestinationStream | undefined {
  try {
    const pretty = createRequire(import.meta.url)('pino-pretty') as (options: Record<string, unknown>) => pino.DestinationStream;
    return pretty({ colorize: true, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
  } catch {
    return undefined;
  }
}

type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/**
 * A request's logger: the pino child (with its bindings serialised and
 * redacted) is made only when a line at an enabled level is written, so a
 * request that logs nothing at the running level costs one small object.
 */
class DeferredLogger {
  private made: Logger | undefined;

  constructor(private readonly root: Logger, private readonly bindings: Record<string, unknown>) {}

  private get real(): Logger {
    this.made ??= this.root.child(this.bindings);
    return this.made;
  }

  get level(): string { return this.root.level; }
  isLevelEnabled(level: string): boolean { return this.root.isLevelEnabled(level); }
  child(bindings: Record<string, unknown>): Logger { return this.real.child(bindings); }
  private write(level: Level, args: unknown[]): void {
    if (this.root.isLevelEnabled(level)) (this.real[level] as (...a: unknown[]) => void)(...args);
  }
  trace(...args: unknown[]): void { this.write('trace', args); }
  debug(...args: unknown[]): void { this.write('debug', args); }
  info(...args: unknown[]): void { this.write('info', args); }
  warn(...args: unknown[]): void { this.write('warn', args); }
  error(...args: unknown[]): void { this.write('error', args); }
  fatal(...args: unknown[]): void { this.write('fatal', args); }
}

/** A child logger that costs nothing until it writes (for per-request loggers on hot paths). */
export function deferredChild(root: Logger, bindings: Record<string, unknown>): Logger {
  return new DeferredLogger(root, bindings) as unknown as Logger;
}
