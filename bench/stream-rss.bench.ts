// A 2 GiB stream through a coordinator running as its own process
// (`coordinator start`, acomm side): a provider (in this process) offers the
// bytes on a unix socket, and a client in a process of its own (curl, as a
// user downloads a stream) reads them from the coordinator's HTTP stream URL.
// The coordinator's RSS is sampled from this process (/proc/<pid>/status)
// while the bytes flow. Baselines, with the same provider:
// - a bare Node unix -> HTTP pipe (its own process: net.connect(path).pipe(res)),
//   read by the same client;
// - the same bytes read straight from the unix socket by a process of its own.
import http from 'node:http';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { createProvider, offerStream } from './subject.js';
import { compare, rssOf, startCoordinatorProcess, startScript, type Measurement } from './support.js';

const TOTAL = 2 * 1024 * 1024 * 1024;
const PEAK_RSS_GOAL = 96 * 1048576;

function generated(total: number): Readable {
  const chunk = Buffer.alloc(256 * 1024, 7);
  let sent = 0;
  return new Readable({ highWaterMark: chunk.length, read() { if (sent >= total) this.push(null); else { sent += chunk.length; this.push(chunk); } } });
}

/** CPU time (user + system) a process has used, seconds. */
function cpuOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Run a command to its end; its stdout. */
function runToEnd(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} exited ${code}`))));
  });
}

/** The client: curl, to /dev/null; MiB/s. */
async function download(url: string): Promise<{ bytes: number; seconds: number }> {
  const t0 = process.hrtime.bigint();
  const bytes = Number(await runToEnd('curl', ['-sS', '--fail', '-o', '/dev/null', '-w', '%{size_download}', url]));
  return { bytes, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

const DIRECT_READER = "const net=require('node:net');let n=0;net.connect(process.argv[1]).on('data',(c)=>{n+=c.length}).on('end',()=>console.log(n))";
const BARE_PIPE = "const http=require('node:http'),net=require('node:net');http.createServer((q,s)=>{const u=net.connect(new URL(q.url,'http://x').searchParams.get('path'));u.once('connect',()=>{s.writeHead(200,{'content-type':'application/octet-stream'});u.pipe(s)});u.on('error',()=>s.destroy());s.on('close',()=>u.destroy())}).listen(0,'127.0.0.1',function(){console.log('port '+this.address().port)})";

export async function run(): Promise<void> {
  // The coordinator runs as users run it: from the dist/ that run.ts built.
  const dir = mkdtempSync(path.join(tmpdir(), 'stream-rss-'));
  const socketDir = path.join(dir, 'sockets');
  const config = path.join(dir, 'coordinator.config.json');
  writeFileSync(config, JSON.stringify({ socketDir, externalPort: 0, bindAddress: '127.0.0.1', dataDir: path.join(dir, 'data'), plugins: ['unix-transport', 'http-server', 'http-ingress', 'stream-proxy'] }));
  const child = await startCoordinatorProcess(['--config', config], {}, dir);
  const bare = await startScript(BARE_PIPE);
  const base = `http://127.0.0.1:${child.port}`;
  const provider = createProvider({ socketDir, name: 'big', tasks: { Big: (args: { bytes?: number }) => ({ result: 'here', stream: () => generated(Number(args?.bytes ?? TOTAL)) }) } });
  await provider.start();

  // The caller's response hook: receives the response with the HTTP stream URL.
  let onResponse: ((body: { streamURL?: string | { Scheme: string; Host: string; Path: string } }) => void) | undefined;
  const hook = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => {
      res.writeHead(200).end('{"error":"","id":"","result":null,"streamURL":null}');
      onResponse?.(JSON.parse(body));
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', () => resolve()));
  const hookPort = (hook.address() as AddressInfo).port;
  let seq = 0;

  /** Ask the coordinator for the stream; its HTTP stream URL. */
  async function streamUrl(bytes = TOTAL): Promise<string> {
    const responded = new Promise<{ streamURL?: unknown }>((resolve) => { onResponse = resolve; });
    const ack = await fetch(`${base}/`, { method: 'POST', body: JSON.stringify({ id: `big-${seq++}`, task: 'Big', args: { bytes }, responseHook: { Scheme: 'http', Host: `127.0.0.1:${hookPort}`, Path: '/r' } }) });
    await ack.text();
    const url = (await responded).streamURL as { Scheme: string; Host: string; Path: string; RawQuery?: string } | string;
    return typeof url === 'string' ? url : `${url.Scheme}://${url.Host}${url.Path}${url.RawQuery ? `?${url.RawQuery}` : ''}`;
  }

  // Warm-up: the coordinator has loaded what it loads on first use (the response hook's HTTP client) and compiled its paths.
  await download(await streamUrl(256 * 1024 * 1024));
  const idleRss = rssOf(child.pid);
  let peakRss = 0;
  const throughCoordinator = async (): Promise<Measurement> => {
    const url = await streamUrl();
    const sampler = setInterval(() => { peakRss = Math.max(peakRss, rssOf(child.pid)); }, 25);
    const cpu0 = cpuOf(child.pid);
    const { bytes, seconds } = await download(url);
    clearInterval(sampler);
    if (bytes !== TOTAL) throw new Error(`read ${bytes} bytes, expected ${TOTAL}`);
    console.log(`coordinator RSS: idle ${(idleRss / 1048576).toFixed(0)} MiB, peak so far ${(peakRss / 1048576).toFixed(0)} MiB; coordinator CPU ${((cpuOf(child.pid) - cpu0) / seconds).toFixed(2)} of a core`);
    return { name: 'provider -> coordinator process -> HTTP (curl)', opsPerSec: bytes / 1048576 / seconds };
  };
  const offered = async (read: (socketPath: string) => Promise<{ bytes: number; seconds: number }>, name: string): Promise<Measurement> => {
    const stream = await offerStream(() => generated(TOTAL), { dir: path.join(dir, 'direct'), ttlMs: 60_000 });
    const { bytes, seconds } = await read(stream.path);
    await stream.close();
    if (bytes !== TOTAL) throw new Error(`${name}: read ${bytes} bytes, expected ${TOTAL}`);
    return { name, opsPerSec: bytes / 1048576 / seconds };
  };
  const rssGoal = () => ({ text: `coordinator peak RSS ≤ 96 MiB over every round (measured ${(peakRss / 1048576).toFixed(0)} MiB, idle ${(idleRss / 1048576).toFixed(0)} MiB)`, met: peakRss <= PEAK_RSS_GOAL });

  try {
    await compare('2 GiB stream, same client (curl): through a coordinator process vs a bare Node unix -> HTTP pipe process (MiB/s as ops/s; RSS sampled from outside)',
      () => offered((socketPath) => download(`http://127.0.0.1:${bare.port}/?path=${encodeURIComponent(socketPath)}`), 'bare Node unix -> HTTP pipe (curl)'),
      throughCoordinator, 3, { target: 0.95, goal: rssGoal });
    await compare('2 GiB stream: through a coordinator process (curl) vs a direct unix read (a process of its own)',
      () => offered(async (socketPath) => {
        const t0 = process.hrtime.bigint();
        const bytes = Number(await runToEnd(process.execPath, ['-e', DIRECT_READER, socketPath]));
        return { bytes, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
      }, 'direct unix read'),
      throughCoordinator, 3, { target: 0.5, goal: rssGoal });
  } finally {
    await provider.stop(100);
    hook.close();
    await bare.stop();
    await child.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
