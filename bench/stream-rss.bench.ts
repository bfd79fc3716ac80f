// A 2 GiB stream through a coordinator running as its own process
// (`coordinator start`, acomm side): a provider offers the bytes on a unix
// socket, the caller reads them from the coordinator's HTTP stream URL. The
// coordinator's RSS is sampled from this process (/proc/<pid>/status) while
// the bytes flow. Baseline: the same bytes read straight from the unix socket.
import http from 'node:http';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { createProvider } from '../index.js';
import { offerStream } from '../plugins/unix-transport/streams.js';
import { buildDist, compare, rssOf, ROOT, type Measurement } from './support.js';

const TOTAL = 2 * 1024 * 1024 * 1024;

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

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function readAll(stream: NodeJS.ReadableStream): Promise<number> {
  return new Promise((resolve, reject) => {
    let n = 0;
    stream.on('data', (c: Buffer) => { n += c.length; });
    stream.on('end', () => resolve(n));
    stream.on('error', reject);
  });
}

export async function run(): Promise<void> {
  // The coordinator runs as users run it: from a current dist/.
  buildDist();
  const dir = mkdtempSync(path.join(tmpdir(), 'stream-rss-'));
  const socketDir = path.join(dir, 'sockets');
  const port = await freePort();
  const config = path.join(dir, 'coordinator.config.json');
  writeFileSync(config, JSON.stringify({ socketDir, externalPort: port, bindAddress: '127.0.0.1', dataDir: path.join(dir, 'data'), plugins: ['unix-transport', 'http-server', 'http-ingress', 'stream-proxy'] }));
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'coordinator.js'), 'start', '--config', config], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  for (let i = 0; i < 200 && !/coordinator ready|"msg":"ready"|listening/i.test(out); i += 1) await new Promise((r) => setTimeout(r, 50));
  const base = `http://127.0.0.1:${port}`;
  const provider = createProvider({ socketDir, name: 'big', tasks: { Big: () => ({ result: 'here', stream: () => generated(TOTAL) }) } });
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
  const idleRss = rssOf(child.pid!);
  let peakRss = 0;
  let seq = 0;

  try {
    await compare(`2 GiB stream through a coordinator process (MiB/s as ops/s; RSS sampled from outside)`,
      async (): Promise<Measurement> => {
        const offered = await offerStream(() => generated(TOTAL), { dir: path.join(dir, 'direct'), ttlMs: 60_000 });
        const t0 = process.hrtime.bigint();
        const n = await readAll(net.connect(offered.path));
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        await offered.close();
        return { name: 'direct unix read', opsPerSec: n / 1048576 / seconds };
      },
      async (): Promise<Measurement> => {
        const responded = new Promise<{ streamURL?: unknown }>((resolve) => { onResponse = resolve; });
        const id = `big-${seq++}`;
        const ack = await fetch(`${base}/`, { method: 'POST', body: JSON.stringify({ id, task: 'Big', args: {}, responseHook: { Scheme: 'http', Host: `127.0.0.1:${hookPort}`, Path: '/r' } }) });
        await ack.text();
        const response = await responded;
        const url = response.streamURL as { Scheme: string; Host: string; Path: string; RawQuery?: string } | string;
        const href = typeof url === 'string' ? url : `${url.Scheme}://${url.Host}${url.Path}${url.RawQuery ? `?${url.RawQuery}` : ''}`;
        peakRss = 0;
        const sampler = setInterval(() => { peakRss = Math.max(peakRss, rssOf(child.pid!)); }, 25);
        const cpu0 = cpuOf(child.pid!);
        const t0 = process.hrtime.bigint();
        const n = await new Promise<number>((resolve, reject) => http.get(href, (res) => { readAll(res).then(resolve, reject); }).on('error', reject));
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        clearInterval(sampler);
        if (n !== TOTAL) throw new Error(`read ${n} bytes, expected ${TOTAL}`);
        console.log(`coordinator RSS: idle ${(idleRss / 1048576).toFixed(0)} MiB, peak during the stream ${(peakRss / 1048576).toFixed(0)} MiB; coordinator CPU ${((cpuOf(child.pid!) - cpu0) / seconds).toFixed(2)} of a core`);
        return { name: 'provider -> coordinator process -> HTTP', opsPerSec: n / 1048576 / seconds };
      },
      3,
      { target: 0.5, goal: () => ({ text: `coordinator peak RSS ≤ 96 MiB (measured ${(peakRss / 1048576).toFixed(0)} MiB, idle ${(idleRss / 1048576).toFixed(0)} MiB)`, met: peakRss <= 96 * 1048576 }) });
  } finally {
    await provider.stop(100);
    hook.close();
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}
