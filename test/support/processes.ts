// Child processes for end-to-end tests: started, waited for, always reaped.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');
export const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

/**
 * Command and arguments that run a TypeScript file in one node process (the
 * tsx CLI runs a second process, which would survive a SIGKILL of the first).
 */
export function tsNode(file: string, ...args: string[]): [string, string[]] {
  return [process.execPath, ['--import', 'tsx', file, ...args]];
}

export interface Child {
  proc: ChildProcess;
  output(): string;
  /** Resolves when the output matches (rejects after timeoutMs or on exit). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Send a signal and resolve with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function startChild(command: string, args: string[], env: Record<string, string> = {}, cwd = ROOT): Child {
  const proc = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => { out += d.toString(); for (const l of listeners) l(); };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => { for (const l of listeners) l(); resolve(code); }));
  return {
    proc,
    output: () => out,
    waitFor(pattern, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (pattern.test(out)) { cleanup(); resolve(); } else if (proc.exitCode !== null) { cleanup(); reject(new Error(`exited (${proc.exitCode}) before ${pattern}:\n${out}`)); }
        };
        const timer = setTimeout(() => { cleanup(); reject(new Error(`timed out waiting for ${pattern}:\n${out}`)); }, timeoutMs);
        const cleanup = () => { clearTimeout(timer); listeners.delete(check); };
        listeners.add(check);
        check();
      });
    },
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
