// Socket files: private directories, safe removal of stale sockets left by a
// crash (probe first: never unlink a socket somebody still listens on).

import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { CoordinatorError } from '../../core/errors.js';

export const DEFAULT_DIR_MODE = 0o700;
export const DEFAULT_SOCKET_MODE = 0o600;

/** True when something accepts connections on the socket. */
export function probeSocket(socketPath: string, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath);
    const done = (alive: boolean) => {
      socket.destroy();
      clearTimeout(timer);
      resolve(alive);
    };
    const timer = setTimeout(() => done(true), timeoutMs); // accepted but silent: someone is there
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export async function ensureDir(dir: string, mode = DEFAULT_DIR_MODE): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode });
}

/**
 * Make `socketPath` bindable: create its directory, and remove a stale socket
 * file left by a crashed run. A live socket (someone answers) is an error,
 * and so is a path that is not a socket.
 */
export async function prepareSocketPath(socketPath: string, dirMode = DEFAULT_DIR_MODE): Promise<void> {
  await ensureDir(path.dirname(socketPath), dirMode);
  let stat;
  try {
    stat = await fs.lstat(socketPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!stat.isSocket()) {
    throw new CoordinatorError('ERR_CONFIG', `${socketPath} exists and is not a socket; refusing to replace it`);
  }
  if (await probeSocket(socketPath)) {
    throw new CoordinatorError('ERR_CONFIG', `${socketPath} is in use by another process (is another coordinator running with this service name?)`);
  }
  await fs.unlink(socketPath).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

export async function removeSocketFile(socketPath: string): Promise<void> {
  await fs.unlink(socketPath).catch(() => undefined);
}
