// Events through the durable outbox (SQLite, ordered per stream, 8 streams in
// parallel) to a local application answering 200 at once, vs the same events
// POSTed directly with the same HTTP client and parallelism, in the same run.
// The events come from 64 producers (one per stream, as control sessions emit
// them), each awaiting its emit: the time runs from the first emit to the
// last delivery.
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { createCoordinator, eventCallbacks, makeEvent } from '../index.js';
import { compare } from './support.js';

const EVENTS = 4000;
const STREAMS = 64;

export async function run(): Promise<void> {
  const app = http.createServer((req, res) => { req.resume(); req.on('end', () => res.writeHead(200).end()); });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(app.address() as AddressInfo).port}/events`;
  const agent = new Agent({ connections: 8, keepAliveTimeout: 10_000 });
  let round = 0;
  try {
    await compare(`${EVENTS} stream events to the application`,
      async () => {
        const t0 = process.hrtime.bigint();
        let next = 0;
        await Promise.all(Array.from({ length: 8 }, async () => {
          while (next < EVENTS) {
            const i = next++;
            const res = await request(url, { method: 'POST', dispatcher: agent, headers: { 'x-event-type': 'stream-available', 'x-streaming-channel': `ch${i % STREAMS}`, 'x-streaming-id': 'id' } });
            await res.body.dump();
          }
        }));
        return { name: 'direct POST, no outbox', opsPerSec: EVENTS / (Number(process.hrtime.bigint() - t0) / 1e9) };
      },
      async () => {
        const dataDir = mkdtempSync(path.join(tmpdir(), 'outbox-bench-'));
        const runtime = createCoordinator({ logLevel: 'silent', dataDir, plugins: [eventCallbacks({ concurrency: 8 })] }, { env: { EVENT_CALLBACK_URL: url } });
        await runtime.start();
        const t0 = process.hrtime.bigint();
        round += 1;
        // One producer per stream (as control sessions emit), each awaiting its own events.
        await Promise.all(Array.from({ length: STREAMS }, async (_, s) => {
          for (let i = s; i < EVENTS; i += STREAMS) {
            await runtime.emit(makeEvent('stream.available', { channel: `ch${s}`, streamId: `r${round}`, streamType: 'HLS-LIVE', resolution: '1280x720-30', indexFile: 'live.m3u8' }));
          }
        }));
        const idle = await runtime.service('event-callbacks').idle(120_000);
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        await runtime.stop();
        rmSync(dataDir, { recursive: true, force: true });
        if (!idle) throw new Error('outbox did not drain');
        return { name: 'through the durable outbox', opsPerSec: EVENTS / seconds };
      }, 2, 0.7);
  } finally {
    await agent.close();
    app.close();
  }
}
