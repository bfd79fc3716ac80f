// Events through the durable outbox (SQLite, ordered per stream, 8 streams in
// parallel) to a local application answering 200 at once, vs the same events
// POSTed directly with the same HTTP client and parallelism, in the same run.
// The events come from 64 producers (one per stream, as control sessions emit
// them), each awaiting its emit: the time runs from the first emit to the
// last delivery.
//
// The outbox runs on the delivery thread (deliveryThread, the default); then
// the same with it on the event loop, and what each way costs the event loop:
// its busy time per event (the emits, the application's server and, on the
// event loop, the whole delivery).
//
// The delivery thread is an isolate of its own: it compiles undici, the
// SQLite bindings and the delivery loop again. perf showed V8's compiler
// threads taking ~40 % of both cores for the first ~2.5 s after the thread
// starts, which the first rounds of 4,000 events (~0.2 s each) measured
// instead of the delivery: alone, the row read 0.50–0.68 with one warm-up
// and 0.70–0.90 with three. A running coordinator pays that once, so the
// thread's row warms up three times and takes the median of seven rounds.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { createCoordinator, DeadlineSignals, eventCallbacks, LazyAgent, makeEvent, smallPost, type PluginLike } from './subject.js';
import { compare } from './support.js';

const EVENTS = 4000;
const STREAMS = 64;

/** The baseline: the same events POSTed directly (the original's headers), 8 at a time, with the same HTTP client and call as the outbox. */
export async function directPosts(url: string, agent: LazyAgent, events = EVENTS): Promise<{ name: string; opsPerSec: number }> {
  const target = new URL(url);
  const deadlines = new DeadlineSignals(10_000);
  const t0 = process.hrtime.bigint();
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < events) {
      const i = next++;
      // The same event as the original coordinator POSTs it (its six headers), without an outbox, with the client the outbox uses.
      await smallPost(agent, target, { headers: { 'x-streaming-channel': `ch${i % STREAMS}`, 'x-streaming-id': 'id', 'x-event-type': 'stream-available', 'x-stream-type': 'HLS-LIVE', 'x-resolution': '1280x720-30', 'x-index-file': 'live.m3u8' }, body: '', deadlines, headersTimeout: 10_000, bodyTimeout: 10_000 });
    }
  }));
  deadlines.close();
  return { name: 'direct POST, no outbox', opsPerSec: events / (Number(process.hrtime.bigint() - t0) / 1e9) };
}

let round = 0;

/** Events emitted by one producer per stream (as control sessions emit), each awaiting its own, until all are delivered; `loopBusyUs`: the event loop's busy time per event. */
export async function throughCallbacks(name: string, url: string, extraPlugins: PluginLike[] = [], events = EVENTS, deliveryThread = true): Promise<{ name: string; opsPerSec: number; loopBusyUs: number }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'outbox-bench-'));
  const runtime = createCoordinator({ logLevel: 'silent', dataDir, plugins: [...extraPlugins, eventCallbacks({ concurrency: 8, deliveryThread })] }, { env: { EVENT_CALLBACK_URL: url } });
  await runtime.start();
  const loop0 = performance.eventLoopUtilization();
  const t0 = process.hrtime.bigint();
  round += 1;
  await Promise.all(Array.from({ length: STREAMS }, async (_, s) => {
    for (let i = s; i < events; i += STREAMS) {
      await runtime.emit(makeEvent('stream.available', { channel: `ch${s}`, streamId: `r${round}`, streamType: 'HLS-LIVE', resolution: '1280x720-30', indexFile: 'live.m3u8' }));
    }
  }));
  const idle = await runtime.service('event-callbacks').idle(120_000);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const loop = performance.eventLoopUtilization(loop0);
  await runtime.stop();
  rmSync(dataDir, { recursive: true, force: true });
  if (!idle) throw new Error(`${name}: not drained`);
  return { name, opsPerSec: events / seconds, loopBusyUs: (loop.active * 1000) / events };
}

/** A local application answering 200 at once. */
export async function application(): Promise<{ url: string; close(): void }> {
  const app = http.createServer((req, res) => { req.resume(); req.on('end', () => res.writeHead(200).end()); });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', () => resolve()));
  return { url: `http://127.0.0.1:${(app.address() as AddressInfo).port}/events`, close: () => app.close() };
}

export async function run(): Promise<void> {
  const app = await application();
  const agent = new LazyAgent({ connections: 8, keepAliveTimeout: 10_000 });
  try {
    await compare(`${EVENTS} stream events to the application`,
      () => directPosts(app.url, agent),
      () => throughCallbacks('through the durable outbox (on its thread, the default)', app.url),
      7, { target: 0.7, warmup: 3 });
    await compare(`${EVENTS} stream events to the application, the outbox on the event loop (deliveryThread: false)`,
      () => directPosts(app.url, agent),
      () => throughCallbacks('through the outbox on the event loop', app.url, [], EVENTS, false),
      5, { warmup: 1 });
    // Events per second of the event loop's busy time: the higher, the less each event costs the event loop.
    const perLoopSecond = async (name: string, deliveryThread: boolean) => {
      const r = await throughCallbacks(name, app.url, [], EVENTS, deliveryThread);
      return { name: `${name} (${r.loopBusyUs.toFixed(1)} µs per event)`, opsPerSec: 1e6 / r.loopBusyUs };
    };
    await compare(`${EVENTS} stream events: the event loop's busy time per event (as events per busy second), the outbox on the delivery thread vs on the event loop`,
      () => perLoopSecond('outbox on the event loop', false),
      () => perLoopSecond('outbox on the delivery thread', true),
      5);
  } finally {
    await agent.close();
    app.close();
  }
}
