// Authorization of the operator/application HTTP APIs (the streaming
// commands API, the dashboard, /status) per COMMANDS_API_AUTH (Basic, Bearer,
// Custom), constant-time comparisons; unset means closed (401), as the original.

import type http from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { CommandsApiConfig } from '../../core/config/types.js';

export type CommandsAuthMode = 'none' | 'basic' | 'bearer' | 'custom';

export interface CommandsAuth {
  mode: CommandsAuthMode;
  user: string;
  token: string;
  /** COMMANDS_API_AUTH_PASSWORD; the original read the TOKEN as the Basic password, which stays the fallback. */
  password: string;
  /** Raw Authorization value for Custom mode. */
  custom: string;
  /** Development only: no authentication at all. */
  open: boolean;
}

/** Constant-time string equality (a length mismatch still costs one comparison). */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  // Compare equal-length buffers in constant time; a length mismatch still costs one comparison.
  if (x.length !== y.length) {
    timingSafeEqual(x, x);
    return false;
  }
  return timingSafeEqual(x, y);
}

/**
 * What keeps a mode closed: its secret is missing or empty. A mode without
 * its secret never admits anyone (an empty Authorization header, `Basic Og==`
 * or `Bearer ` would otherwise match the empty secret). Undefined when usable.
 */
export function commandsAuthProblem(auth: CommandsAuth): string | undefined {
  if (auth.open) return undefined;
  switch (auth.mode) {
    case 'none': return 'COMMANDS_API_AUTH is not set';
    case 'bearer': return auth.token ? undefined : 'COMMANDS_API_AUTH=Bearer without COMMANDS_API_AUTH_TOKEN';
    case 'custom': return auth.custom ? undefined : 'COMMANDS_API_AUTH=Custom without COMMANDS_API_AUTH_CUSTOM';
    case 'basic':
      if (!auth.user) return 'COMMANDS_API_AUTH=Basic without COMMANDS_API_AUTH_USER';
      return auth.password || auth.token ? undefined : 'COMMANDS_API_AUTH=Basic without COMMANDS_API_AUTH_PASSWORD (or _TOKEN)';
  }
}

export function authorize(header: string | undefined, auth: CommandsAuth): boolean {
  if (auth.open) return true;
  if (header === undefined || commandsAuthProblem(auth) !== undefined) return false;
  if (auth.mode === 'custom') return sameSecret(header, auth.custom);
  const space = header.indexOf(' ');
  if (space <= 0 || space === header.length - 1) return false;
  const scheme = header.slice(0, space).toUpperCase();
  const credential = header.slice(space + 1);
  if (scheme !== auth.mode.toUpperCase()) return false;
  if (auth.mode === 'bearer') return auth.token !== '' && sameSecret(credential, auth.token);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(credential) || credential.length % 4 !== 0) return false;
  const decoded = Buffer.from(credential, 'base64').toString('utf8');
  const password = auth.password || auth.token;
  return sameSecret(decoded, `${auth.user}:${password}`);
}

export function unauthorized(res: http.ServerResponse): void {
  res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8' }).end('Invalid authorization header.');
}

export function json(res: http.ServerResponse, body: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache' }).end(JSON.stringify(body));
}

/** The commands credential: the config's `commandsApi`, with COMMANDS_API_AUTH* from the environment over it. */
export function resolveCommandsAuth(config: CommandsApiConfig, env: Record<string, string | undefined>): CommandsAuth {
  const fromEnv = commandsAuthEnv(env);
  const mode = (fromEnv.mode ?? config.auth?.toLowerCase() ?? 'none') as CommandsAuthMode;
  return {
    mode: ['basic', 'bearer', 'custom'].includes(mode) ? mode : 'none',
    user: fromEnv.user ?? config.user ?? '',
    token: fromEnv.token ?? config.token ?? '',
    password: fromEnv.password ?? config.password ?? '',
    custom: fromEnv.custom ?? config.custom ?? '',
    open: config.open === true,
  };
}

const CLOSED = 'the commands API, /status and /dashboard stay closed (401 to everyone)';

/** The `check()` of every plugin that serves a commands-authenticated API: a missing secret is a warning. */
export function commandsAuthCheck(config: CommandsApiConfig, env: Record<string, string | undefined>): Array<{ path: string; message: string; severity: 'warning' }> {
  const problem = commandsAuthProblem(resolveCommandsAuth(config, env));
  return problem ? [{ path: '', message: `${problem}: ${CLOSED}`, severity: 'warning' }] : [];
}

/** The one loud line at start: unset is the closed default (a warning), a mode without its secret a mistake (an error). */
export function logCommandsAuthProblem(log: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void }, auth: CommandsAuth, what: string): void {
  const problem = commandsAuthProblem(auth);
  if (problem) log[auth.mode === 'none' ? 'warn' : 'error']({ problem }, `${problem}: ${what} CLOSED (401 to everyone) until the credential is set`);
}

/** COMMANDS_API_* from the environment (they override the config file); empty variables count as unset. */
export function commandsAuthEnv(env: Record<string, string | undefined>): Partial<Omit<CommandsAuth, 'open'>> {
  const value = (name: string) => (env[name] === '' ? undefined : env[name]);
  const mode = value('COMMANDS_API_AUTH')?.trim().toLowerCase();
  return {
    mode: mode === undefined ? undefined : (['basic', 'bearer', 'custom'].includes(mode) ? mode as CommandsAuthMode : 'none'),
    user: value('COMMANDS_API_AUTH_USER'),
    token: value('COMMANDS_API_AUTH_TOKEN'),
    password: value('COMMANDS_API_AUTH_PASSWORD'),
    custom: value('COMMANDS_API_AUTH_CUSTOM'),
  };
}

/** Who a valid Authorization value names, for audit lines: the Basic user, else the credential kind. Never the secret. */
export function actorOf(header: string, auth: CommandsAuth): string {
  if (auth.mode === 'basic' && /^basic /i.test(header)) {
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return `user ${(colon >= 0 ? decoded.slice(0, colon) : decoded).slice(0, 64)}`;
  }
  return auth.open ? 'anonymous (open commands API)' : `${auth.mode} credential holder`;
}
