// Socket-directory helpers for integration tests.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import path from 'node:path';

/** A short, private socket directory (unix socket paths are limited to ~107 bytes). */
export function tempSocketDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync('/tmp/ct-');
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A socket file nobody listens on: a child process binds it and is killed with SIGKILL. */
export async function staleSocket(socketPath: string): Promise<void> {
  mkdirSync(path.dirname(socketPath), { recursive: true });
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  if (!existsSync(socketPath)) throw new Error('stale socket vanished');
}
