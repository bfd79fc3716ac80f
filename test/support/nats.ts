// A real nats-server for tests: Debian's package (.ci/run installs it),
// started on a random loopback port with JetStream in a temp dir, stopped and
// removed afterwards. No mock stands in for NATS.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const NATS_SERVER = process.env.NATS_SERVER_PATH ?? '/usr/sbin/nats-server';

export interface NatsServer {
  url: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

export async function startNatsServer(): Promise<NatsServer> {
  if (!existsSync(NATS_SERVER)) throw new Error(`${NATS_SERVER} is missing: install Debian's nats-server (.ci/run does: apt-get install nats-server)`);
  const dir = mkdtempSync(path.join(tmpdir(), 'nats-test-'));
  const proc = spawn(NATS_SERVER, ['-js', '-a', '127.0.0.1', '-p', '-1', '-sd', dir, '--http_port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nats-server did not start:\n${log}`)), 15_000);
    const onData = (d: Buffer) => {
      log += d.toString();
      const port = /Listening for client connections on [\d.]+:(\d+)/.exec(log)?.[1];
      if (port && /Server is ready/.test(log)) {
        clearTimeout(timer);
        resolve(`nats://127.0.0.1:${port}`);
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`nats-server exited (${code}):\n${log}`)); });
  });
  return {
    url,
    proc,
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await new Promise((resolve) => proc.once('exit', resolve));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
