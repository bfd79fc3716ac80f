// Issue 11 §7: a provider killed after acknowledging fails its requests
// within about 2 s (ERR_PROVIDER_GONE); a provider that is merely slow is
// left alone. Real processes, real sockets.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { unixTransport } from '../../index.js';
import type { Coordinator } from '../../core/runtime.js';
import { makeRuntime, delay } from '../support/runtime.js';
import { tempSocketDir } from '../support/sockets.js';
import { rawSend } from '../support/raw-acomm.js';

/**
 * A provider in its own process: acks every request, then answers it to the
 * hook after `answerAfterMs` (never, when negative).
 */
function providerProcess(socketPath: string, answerAfterMs: number): Promise<ChildProcess> {
  mkdirSync(path.dirname(socketPath), { recursive: true });
  const script = `
    const net = require('net');
    const frame = (s) => { const b = Buffer.from(s); const h = Buffer.alloc(4); h.writeUInt32BE(b.length); return Buffer.concat([h, b]); };
    net.createServer((c) => {
      let buf = Buffer.alloc(0);
      c.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length < 4 || buf.length < 4 + buf.readUInt32BE(0)) return;
        const req = JSON.parse(buf.subarray(4, 4 + buf.readUInt32BE(0)).toString());
        c.end(frame(JSON.stringify({ error: '', id: req.id, result: null, streamURL: null })));
        if (${answerAfterMs} < 0) return;
        setTimeout(() => {
          const s = net.connect(req.responseHook.Path);
          s.on('error', () => {});
          s.on('data', () => s.end());
          s.write(frame(JSON.stringify({ error: '', id: req.id, result: 'slow but here', streamURL: null })));
        }, ${answerAfterMs});
      });
    }).listen(${JSON.stringify(socketPath)}, () => console.log('up'));
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve) => child.stdout!.once('data', () => resolve(child)));
}

describe('unix transport: a dead provider fails fast', function () {
  this.timeout(30_000);
  let sockets: ReturnType<typeof tempSocketDir>;
  let runtime: Coordinator;
  const children: ChildProcess[] = [];

  beforeEach(async () => {
    sockets = tempSocketDir();
    runtime = makeRuntime({ socketDir: sockets.dir, serviceName: 'pg', requestTimeoutMs: 20_000 }, [unixTransport()]);
    await runtime.start();
  });
  afterEach(async () => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
    await runtime.stop();
    sockets.cleanup();
  });

  it('a provider killed after its ack: the request fails with ERR_PROVIDER_GONE within about 2 s', async () => {
    const child = await providerProcess(path.join(sockets.dir, 'Work', '50-dies.sock'), -1);
    children.push(child);
    const pending = runtime.inject({ task: 'Work', id: 'gone-1' });
    await delay(300);
    const killedAt = Date.now();
    child.kill('SIGKILL');
    const response = await pending;
    const elapsed = Date.now() - killedAt;
    assert.equal(response.errorCode, 'ERR_PROVIDER_GONE');
    assert.match(response.error, /^provider gone: .*50-dies\.sock stopped listening before answering$/);
    assert.ok(elapsed < 2500, `answered ${elapsed} ms after the provider died`);
  });

  it('the same for a Go-style client on the unix door: its hook gets the error', async () => {
    const child = await providerProcess(path.join(sockets.dir, 'Work', '50-dies.sock'), -1);
    children.push(child);
    const pending = runtime.inject({ task: 'Work', id: 'gone-2' });
    await delay(200);
    child.kill('SIGKILL');
    assert.equal((await pending).errorCode, 'ERR_PROVIDER_GONE');
    // The coordinator keeps serving: a request for the task now finds the stale socket and says so at once.
    const ack = await rawSend(path.join(sockets.dir, 'coordinator', 'pg.sock'), `{"id":"after","task":"Work","taskURL":null,"responseHook":{"Scheme":"unix","Path":"${sockets.dir}/response/x.sock"},"streamURL":null,"args":null}`);
    assert.match(JSON.parse(ack).error, /connection refused/);
  });

  it('a slow provider that is alive is not failed', async () => {
    const child = await providerProcess(path.join(sockets.dir, 'Slow', '50-slow.sock'), 3500);
    children.push(child);
    const response = await runtime.inject({ task: 'Slow', id: 'slow-1' });
    assert.equal(response.error, '');
    assert.equal(response.result, 'slow but here');
  });
});
