// Cold start of `coordinator start` with the bundled config
// (coordinator.config.mjs: both sides and operations), run as users run it:
// compiled JavaScript from dist/, in its own process. Measured from outside:
// the time from spawn to the "coordinator ready" line, and the RSS two
// seconds after it (/proc/<pid>/status; startup settled, before V8's memory
// reducer trims more after ~10 s). Baseline: a bare Node HTTP server spawned
// the same way (time to listening, RSS two seconds later).
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { results, rssOf, ROOT } from './support.js';

const RUNS = 3;
const SETTLE_MS = 2000;
const IDLE_RSS_GOAL = 70 * 1048576;

interface Start { readyMs: number; rss: number }

async function startOnce(args: string[], cwd: string, readyLine: RegExp): Promise<Start> {
  const t0 = process.hrtime.bigint();
  const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let out = '';
    const readyMs = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not ready within 20 s:\n${out.slice(-2000)}`)), 20_000);
      const onData = (d: Buffer) => {
        out += d.toString();
        if (readyLine.test(out)) {
          clearTimeout(timer);
          resolve(Number(process.hrtime.bigint() - t0) / 1e6);
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited (${code}) before ready:\n${out.slice(-2000)}`)); });
    });
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    return { readyMs, rss: rssOf(child.pid!) };
  } finally {
    child.removeAllListeners('exit');
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const mib = (bytes: number) => `${(bytes / 1048576).toFixed(0)} MiB`;

export async function run(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'start-bench-'));
  try {
    copyFileSync(path.join(ROOT, 'coordinator.config.mjs'), path.join(dir, 'coordinator.config.mjs'));
    const ours: Start[] = [];
    const bare: Start[] = [];
    for (let i = 0; i < RUNS; i += 1) {
      bare.push(await startOnce(['-e', "require('node:http').createServer((q, s) => s.end()).listen(0, '127.0.0.1', () => console.log('listening'))"], dir, /listening/));
      ours.push(await startOnce([path.join(ROOT, 'bin', 'coordinator.js'), 'start', '--external_port', '0', '--socket_dir', path.join(dir, 'sockets')], dir, /coordinator ready/));
    }
    const readyMs = median(ours.map((s) => s.readyMs));
    const rss = median(ours.map((s) => s.rss));
    const bareMs = median(bare.map((s) => s.readyMs));
    const bareRss = median(bare.map((s) => s.rss));
    console.log(`start: ${readyMs.toFixed(0)} ms to ready, idle RSS ${mib(rss)} (runs: ${ours.map((s) => `${s.readyMs.toFixed(0)} ms/${mib(s.rss)}`).join(', ')}); bare Node HTTP server: ${bareMs.toFixed(0)} ms, ${mib(bareRss)}`);
    results.push({
      path: `cold start with the bundled config (compiled JS, own process; time to ready as ops/s; median of ${RUNS})`,
      ours: `coordinator start: ${readyMs.toFixed(0)} ms to ready, idle RSS ${mib(rss)}`,
      baseline: `bare Node HTTP server: ${bareMs.toFixed(0)} ms to listening, RSS ${mib(bareRss)}`,
      ratio: bareMs / readyMs,
      goal: { text: `idle RSS ≤ 70 MiB (measured ${mib(rss)}, ${SETTLE_MS / 1000} s after ready)`, met: rss <= IDLE_RSS_GOAL },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
