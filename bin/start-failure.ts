// What to tell an operator when `coordinator start` fails: the cause in one
// line and the fix, not a stack trace (the stack is in the debug log).

import { isCoordinatorError } from '../core/errors.js';

export interface StartFailure {
  /** One line: what went wrong. */
  cause: string;
  /** What to do about it. */
  fix: string;
}

function errnoOf(err: unknown): { code?: string; syscall?: string; address?: string; port?: number; path?: string } {
  let current: unknown = err;
  // Our errors wrap the system error as their cause.
  for (let depth = 0; depth < 5 && current && typeof current === 'object'; depth += 1) {
    const e = current as { code?: unknown; syscall?: string; address?: string; port?: number; path?: string; cause?: unknown };
    if (typeof e.code === 'string' && e.code.startsWith('E') && !e.code.startsWith('ERR_')) return e as ReturnType<typeof errnoOf>;
    current = e.cause;
  }
  return {};
}

export function describeStartFailure(err: unknown): StartFailure {
  const message = err instanceof Error ? err.message : String(err);
  const sys = errnoOf(err);
  if (sys.code === 'EADDRINUSE') {
    const where = sys.port !== undefined ? `${sys.address ?? ''}:${sys.port}` : sys.address ?? 'the address';
    return { cause: `port ${where} is in use by another process`, fix: 'stop the other process (another coordinator?), or choose another port: externalPort in the config, -p/--external_port, or HTTP_PORT' };
  }
  if (sys.code === 'EADDRNOTAVAIL') {
    return { cause: `cannot bind ${sys.address ?? 'the address'}: it is not an address of this host`, fix: 'set bindAddress (or BIND_ADDRESS) to an address of this host, e.g. 127.0.0.1' };
  }
  if (sys.code === 'EACCES' || sys.code === 'EPERM') {
    return { cause: `permission denied: ${message}`, fix: 'run as a user allowed to use that path or port (ports below 1024 need privileges), or change the setting' };
  }
  if (sys.code === 'ENOTDIR' || sys.code === 'EROFS' || sys.code === 'ENOSPC' || (sys.code === 'ENOENT' && sys.syscall === 'mkdir')) {
    return { cause: `cannot create or write ${sys.path ?? 'a directory'}: ${message}`, fix: 'point dataDir (or COORDINATOR_DATA_DIR) and socketDir (-s, SOCKET_DIR) at writable directories' };
  }
  if (/in use by another process/.test(message)) {
    return { cause: message, fix: 'stop the other coordinator, or give this one another service name (-n/--service_name) or socket directory (-s, SOCKET_DIR)' };
  }
  if (/SQLITE|database/i.test(message)) {
    return { cause: `the event outbox cannot open its database: ${message}`, fix: 'check that dataDir (or COORDINATOR_DATA_DIR, or event-callbacks.databaseFile) is a writable directory on a disk with space' };
  }
  if (isCoordinatorError(err)) return { cause: `${err.code}: ${message}`, fix: err.hint };
  return { cause: message, fix: 'see the log above; run `coordinator validate` to check the configuration' };
}
