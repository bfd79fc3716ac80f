import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
// Shared benchmark helpers: run a baseline and a subject in the same process,
// interleaved, and print ratios (machines are shared and noisy).

export interface Measurement {
  name: string;
  opsPerSec: number;
  p50Us?: number;
  p99Us?: number;
}

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Run `op` `count` times with `concurrency` in flight; ops/s and latency
 * percentiles. The harness allocates nothing per op (latencies in a
 * Float64Array, times from performance.now()): a `new Array(100_000)` of
 * doubles is a dictionary of boxed numbers, which the garbage collector
 * promoted and scanned at the expense of whichever side it measured.
 */
export async function measure(name: string, op: () => Promise<unknown>, count: number, concurrency: number): Promise<Measurement> {
  const latencies = new Float64Array(count);
  let next = 0;
  const start = performance.now();
  async function worker(): Promise<void> {
    while (next < count) {
      const i = next++;
      const t0 = performance.now();
      await op();
      latencies[i] = (performance.now() - t0) * 1000;
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - start) / 1000;
  latencies.sort();
  return { name, opsPerSec: count / seconds, p50Us: percentile(latencies, 50), p99Us: percentile(latencies, 99) };
}

/** One row of the summary table (`npm run bench` prints it and writes bench/results.md). */
export interface ResultRow {
  path: string;
  ours: string;
  baseline: string;
  ratio: number;
  /** The ratio to reach (issue targets), if any. */
  target?: number;
  /** An absolute goal of the subject (e.g. p99 ≤ 20 ms), and whether it was met. */
  goal?: { text: string; met: boolean };
  /** The lowest and highest ratio of a single round (subject / the baseline run just before it): how noisy the median is. */
  spread?: { low: number; high: number };
  /** The share of this machine's CPU time its host took (steal) over the measured rounds, and in the worst round, %; unknown off Linux. */
  hostSteal?: { mean: number; worst: number };
}

/**
 * The machine's CPU time so far and how much of it the host took (steal:
 * a virtual CPU ready to run while the host ran something else), in ticks,
 * from /proc/stat; undefined where there is none. On these shared VMs steal
 * moves the ratios of the paths that need both cores (see
 * docs/ARCHITECTURE.md), so every row reports it.
 */
function cpuTicks(): { steal: number; total: number } | undefined {
  let line: string;
  try {
    line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  } catch {
    return undefined;
  }
  // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest time is counted in user already).
  const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (ticks.length < 8 || ticks.some((t) => !Number.isFinite(t))) return undefined;
  return { steal: ticks[7]!, total: ticks.reduce((a, b) => a + b, 0) };
}

/** Steal between two readings of cpuTicks(), % of the CPU time in between. */
function stealPercent(from: ReturnType<typeof cpuTicks>, to: ReturnType<typeof cpuTicks>): number | undefined {
  if (!from || !to || to.total <= from.total) return undefined;
  return (100 * (to.steal - from.steal)) / (to.total - from.total);
}

/** Options of compare(): the ratio to reach and absolute goals of the subject. */
export interface CompareOptions {
  target?: number;
  /**
   * Run each side this many times, unmeasured, before the rounds (the JIT
   * warms both alike; a side that starts a worker thread or a process
   * compiles its code again and needs more).
   */
  warmup?: number;
  goal?: (subject: Measurement) => { text: string; met: boolean };
}

export const results: ResultRow[] = [];

/**
 * Alternate baseline and subject `rounds` times; report the median round of
 * each (by ops/s: one lucky or unlucky round on these shared cores moves
 * nothing), or the better of two.
 */
export async function compare(
  title: string,
  baseline: () => Promise<Measurement>,
  subject: () => Promise<Measurement>,
  rounds = 3,
  targetOrOptions?: number | CompareOptions,
): Promise<{ baseline: Measurement; subject: Measurement; ratio: number }> {
  const options: CompareOptions = typeof targetOrOptions === 'number' ? { target: targetOrOptions } : (targetOrOptions ?? {});
  const target = options.target;
  const baselines: Measurement[] = [];
  const subjects: Measurement[] = [];
  for (let i = 0; i < (options.warmup ?? 0); i += 1) {
    await baseline();
    await subject();
  }
  // One reading at each round's edge: round i is ticks[i] to ticks[i + 1], all of them ticks[0] to the last.
  const ticks = [cpuTicks()];
  for (let i = 0; i < rounds; i += 1) {
    baselines.push(await baseline());
    subjects.push(await subject());
    ticks.push(cpuTicks());
  }
  const meanSteal = stealPercent(ticks[0], ticks[rounds]);
  const stolen = ticks.slice(1).map((t, i) => stealPercent(ticks[i], t) ?? 0);
  const hostSteal = meanSteal !== undefined ? { mean: meanSteal, worst: Math.max(...stolen, meanSteal) } : undefined;
  const median = (ms: Measurement[]) => {
    const sorted = [...ms].sort((a, b) => a.opsPerSec - b.opsPerSec);
    return sorted.length === 2 ? sorted[1]! : sorted[Math.floor(sorted.length / 2)]!;
  };
  const best = { baseline: median(baselines), subject: median(subjects) };
  const ratio = best.subject!.opsPerSec / best.baseline!.opsPerSec;
  const perRound = subjects.map((m, i) => m.opsPerSec / baselines[i]!.opsPerSec);
  const spread = { low: Math.min(...perRound), high: Math.max(...perRound) };
  const fmt = (m: Measurement) => `${m.name.padEnd(34)} ${Math.round(m.opsPerSec).toString().padStart(9)} ops/s` +
    (m.p50Us !== undefined ? `  p50 ${m.p50Us.toFixed(1)} µs  p99 ${m.p99Us!.toFixed(1)} µs` : '');
  console.log(`\n## ${title}`);
  console.log(fmt(best.baseline!));
  console.log(fmt(best.subject!));
  console.log(`ratio subject/baseline: ${ratio.toFixed(3)}  (${ratio >= 1 ? `subject is ${ratio.toFixed(2)}x faster` : `baseline is ${(1 / ratio).toFixed(2)}x faster`}; single rounds ${spread.low.toFixed(3)}–${spread.high.toFixed(3)})`);
  const short = (m: Measurement) => `${m.name}: ${Math.round(m.opsPerSec).toLocaleString('en-US')}/s${m.p99Us !== undefined ? `, p99 ${m.p99Us >= 1000 ? `${(m.p99Us / 1000).toFixed(1)} ms` : `${m.p99Us.toFixed(1)} µs`}` : ''}`;
  const goal = options.goal?.(best.subject);
  if (goal) console.log(`goal: ${goal.text}: ${goal.met ? 'met' : 'NOT met'}`);
  if (hostSteal) console.log(`host CPU steal: ${hostSteal.mean.toFixed(1)} % over the rounds, ${hostSteal.worst.toFixed(1)} % in the worst`);
  results.push({ path: title, ours: short(best.subject!), baseline: short(best.baseline!), ratio, spread, ...(hostSteal ? { hostSteal } : {}), ...(target !== undefined ? { target } : {}), ...(goal ? { goal } : {}) });
  return { baseline: best.baseline!, subject: best.subject!, ratio };
}

export const ACK = '{"error":"","id":"","result":null,"streamURL":null}';

export async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return (server.address() as AddressInfo).port;
}

/** A caller's HTTP response hook: acks every delivery and wakes whoever waits for that request id. */
export async function startHook(): Promise<{ server: http.Server; port: number; waiting: Map<string, () => void> }> {
  const waiting = new Map<string, () => void>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.end(ACK);
      const id = JSON.parse(Buffer.concat(chunks).toString()).id as string;
      waiting.get(id)?.();
      waiting.delete(id);
    });
  });
  return { server, port: await listen(server), waiting };
}

export const ROOT = path.resolve(import.meta.dirname, '..');

/**
 * A current dist/ (run.ts builds it once, before any benchmark loads): the
 * benchmarks measure the compiled package (see subject.ts), and a stale one
 * would make bin/coordinator.js run the sources through tsx.
 */
export function buildDist(): void {
  const build = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('build failed');
}

/** A process's resident set size, bytes (/proc/<pid>/status). */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

/** A process started for a benchmark: its pid, the output so far, and a stop. */
export interface BenchProcess {
  pid: number;
  output(): string;
  stop(): Promise<void>;
}

/**
 * Spawn a process and wait for `ready` in its output (stdout and stderr are
 * read the whole time, so a chatty child never blocks on a full pipe).
 */
export async function spawnReady(args: string[], options: { cwd?: string; env?: Record<string, string>; ready: RegExp; timeoutMs?: number }): Promise<BenchProcess> {
  const child = spawn(process.execPath, args, { cwd: options.cwd ?? ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => { if (out.length < 1_000_000) out += d.toString(); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { clearInterval(poll); reject(new Error(`not ready within ${options.timeoutMs ?? 20_000} ms:\n${out.slice(-2000)}`)); }, options.timeoutMs ?? 20_000);
    const poll = setInterval(() => {
      if (options.ready.test(out)) { clearTimeout(timer); clearInterval(poll); resolve(); }
    }, 20);
    void exited.then(() => { clearTimeout(timer); clearInterval(poll); reject(new Error(`exited before ready:\n${out.slice(-2000)}`)); });
  });
  return {
    pid: child.pid!,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A Node script (`node -e`) in its own process that prints `port <n>` once it listens: the process and its port. */
export async function startScript(script: string): Promise<BenchProcess & { port: number }> {
  const child = await spawnReady(['-e', script], { ready: /port \d+/ });
  return { ...child, port: Number(/port (\d+)/.exec(child.output())![1]) };
}

/**
 * `coordinator start` as users run it (compiled JavaScript, its own process),
 * on port 0; resolves with its HTTP port once it is ready.
 */
export async function startCoordinatorProcess(args: string[], env: Record<string, string>, cwd: string): Promise<BenchProcess & { port: number }> {
  // BENCH_COORDINATOR_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the coordinator alone.
  const nodeArgs = process.env.BENCH_COORDINATOR_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = await spawnReady([...nodeArgs, path.join(ROOT, 'bin', 'coordinator.js'), 'start', ...args], { cwd, env, ready: /coordinator ready/, timeoutMs: 30_000 });
  const port = Number(/"port":(\d+),"msg":"HTTP server listening"/.exec(child.output())?.[1]);
  // BENCH_COORDINATOR_OUTPUT=FILE keeps what the coordinator printed (e.g. with --trace-gc in BENCH_COORDINATOR_NODE_ARGS).
  const outputFile = process.env.BENCH_COORDINATOR_OUTPUT;
  if (outputFile) {
    const stop = child.stop;
    child.stop = async () => { await stop(); writeFileSync(outputFile, child.output()); };
  }
  if (!port) { await child.stop(); throw new Error(`no HTTP port in the coordinator's output:\n${child.output().slice(-2000)}`); }
  return { ...child, port };
}
