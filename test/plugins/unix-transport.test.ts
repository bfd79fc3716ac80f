import assert from 'node:assert/strict';
import { statSync, existsSync, writeFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { createProvider, decodeResponse, encodeAck, unixTransport, inProcessProvider, type RunningProvider } from '../../index.js';
import { isPlainAcceptance, isPlainAcceptanceText } from '../../core/plain-ack.js';
import type { Coordinator } from '../../core/runtime.js';
import { makeRuntime, delay } from '../support/runtime.js';
import { tempSocketDir, staleSocket } from '../support/sockets.js';
import { ackText, frame, goRequest, header, rawExchange, rawPeer, rawSend, type RawPeer } from '../support/raw-acomm.js';

describe('unix transport (real sockets)', () => {
  let dir: string;
  let cleanup: () => void;
  let runtime: Coordinator;
  let coordSock: string;
  let responseSock: string;
  const peers: RawPeer[] = [];
  const providers: RunningProvider[] = [];

  async function startCoordinator(options: Record<string, unknown> = {}, config: Record<string, unknown> = {}): Promise<void> {
    runtime = makeRuntime({ socketDir: dir, serviceName: 'coord1', ...config }, [unixTransport(options)]);
    await runtime.start();
  }

  async function peer(rel: string, reply?: (body: string) => string | null, options?: { ackByteGapMs?: number }): Promise<RawPeer> {
    const p = await rawPeer(path.join(dir, rel), reply, options);
    peers.push(p);
    return p;
  }

  beforeEach(() => {
    ({ dir, cleanup } = tempSocketDir());
    coordSock = path.join(dir, 'coordinator', 'coord1.sock');
    responseSock = path.join(dir, 'response', 'coord1.sock');
  });

  afterEach(async () => {
    await runtime?.stop();
    for (const p of peers.splice(0)) await p.close();
    for (const p of providers.splice(0)) await p.stop(100);
    cleanup();
  });

  describe('listeners and socket files', () => {
    it('binds the request and response sockets with owner-only permissions and removes them at stop', async () => {
      await startCoordinator();
      assert.ok(statSync(coordSock).isSocket());
      assert.ok(statSync(responseSock).isSocket());
      assert.equal(statSync(path.dirname(coordSock)).mode & 0o777, 0o700);
      assert.equal(statSync(coordSock).mode & 0o777, 0o600);
      await runtime.stop();
      assert.ok(!existsSync(coordSock));
      assert.ok(!existsSync(responseSock));
    });

    it('cleans a stale socket left by a crashed run, and refuses to steal a live one', async () => {
      await staleSocket(coordSock);
      await startCoordinator();
      assert.equal(await rawSend(coordSock, goRequest('x', 'NoTask', path.join(dir, 'response', 'c.sock'))), ackText('x', 'no providers available for task'));
      const second = makeRuntime({ socketDir: dir, serviceName: 'coord1' }, [unixTransport()]);
      await assert.rejects(second.start(), /in use by another process/);
    });
  });

  describe('routing to providers', () => {
    it('forwards a request to the provider found by file and the response reaches the unix hook', async () => {
      await startCoordinator();
      const hook = await peer('response/client.sock');
      const provider = await peer('CPUInfo/50-fake.sock', (body) => ackText(JSON.parse(body).id));
      const ack = await rawSend(coordSock, goRequest('r1', 'CPUInfo', hook.path, '{"guest_id":"g1"}'));
      assert.equal(ack, ackText('r1', ''));
      const forwarded = JSON.parse(await provider.next());
      assert.equal(forwarded.id, 'r1');
      assert.equal(forwarded.task, 'CPUInfo');
      assert.equal(forwarded.taskURL, null);
      assert.deepEqual(forwarded.args, { guest_id: 'g1' });
      // A unix hook is handed through unchanged (Go key order and URL object form).
      assert.deepEqual(Object.keys(forwarded), ['id', 'task', 'taskURL', 'responseHook', 'streamURL', 'args']);
      assert.equal(forwarded.responseHook.Path, hook.path);
      assert.equal(forwarded.responseHook.Scheme, 'unix');
      // The provider answers the hook directly, as Go providers do.
      const answer = await rawSend(hook.path, `{"error":"","id":"r1","result":[{"processor":0,"mhz":2600}],"streamURL":null}`);
      assert.equal(answer, ackText(''));
      assert.deepEqual(JSON.parse(await hook.next()).result, [{ processor: 0, mhz: 2600 }]);
    });

    it('a provider that takes the frame and never acks is given up after sendTimeoutMs; the next one gets the request', async () => {
      await startCoordinator({ sendTimeoutMs: 300 }, { requestTimeoutMs: 10_000 });
      const silent = net.createServer((s) => { s.on('data', () => undefined); s.on('error', () => undefined); });
      mkdirSync(path.join(dir, 'Slow'), { recursive: true });
      await new Promise<void>((resolve) => { silent.listen(path.join(dir, 'Slow', '10-silent.sock'), () => resolve()); });
      const next = await peer('Slow/20-ok.sock', (body) => ackText(JSON.parse(body).id));
      try {
        const started = Date.now();
        const pending = runtime.inject({ task: 'Slow', id: 's1' });
        assert.equal(JSON.parse(await next.next()).id, 's1');
        const waited = Date.now() - started;
        assert.ok(waited >= 250 && waited < 5000, `the silent provider was left after ${waited} ms`);
        await rawSend(responseSock, `{"error":"","id":"s1","result":"ok","streamURL":null}`);
        assert.equal((await pending).result, 'ok');
      } finally {
        silent.close();
      }
    });

    it('a provider that closes without an ack is left at once (EOF, not the send timeout); the next one gets the request', async () => {
      // A send timeout longer than the test's: only the end of the connection can move the request on.
      await startCoordinator({ sendTimeoutMs: 600_000 }, { requestTimeoutMs: 600_000 });
      const closer = await peer('Gone/10-closer.sock', () => null);
      const next = await peer('Gone/20-ok.sock', (body) => ackText(JSON.parse(body).id));
      const pending = runtime.inject({ task: 'Gone', id: 'g1' });
      assert.equal(JSON.parse(await next.next()).id, 'g1');
      assert.equal(closer.received.length, 1);
      await rawSend(responseSock, `{"error":"","id":"g1","result":"ok","streamURL":null}`);
      assert.equal((await pending).result, 'ok');
    });

    it('gives a provider the response socket for non-unix hooks and relays its answer (in-process caller)', async () => {
      await startCoordinator();
      const provider = await peer('Echo/50-fake.sock', (body) => ackText(JSON.parse(body).id));
      const pending = runtime.inject({ task: 'Echo', id: 'e1', args: { a: 1 } });
      const forwarded = JSON.parse(await provider.next());
      assert.equal(forwarded.responseHook.Path, responseSock);
      const ack = await rawSend(responseSock, `{"error":"","id":"e1","result":{"a":1},"streamURL":null}`);
      assert.equal(ack, ackText(''));
      const response = await pending;
      assert.deepEqual(response.result, { a: 1 });
      assert.equal(response.error, '');
    });

    it('orders providers by numeric priority and fails over: dead socket, then an error ack, then success', async () => {
      await startCoordinator();
      await staleSocket(path.join(dir, 'FO', '5-stale.sock'));
      const refusing = await peer('FO/9-b.sock', (body) => ackText(JSON.parse(body).id, 'b refuses'));
      const good = await peer('FO/20-c.sock', (body) => ackText(JSON.parse(body).id));
      const never = await peer('FO/100-a.sock', (body) => ackText(JSON.parse(body).id));
      const hook = await peer('response/client.sock');
      assert.equal(await rawSend(coordSock, goRequest('f1', 'FO', hook.path)), ackText('f1', ''));
      assert.equal(refusing.received.length, 1);
      assert.equal(good.received.length, 1);
      assert.equal(never.received.length, 0, '100- is tried after 20- (numbers, not text)');
    });

    it('reports the last failure when every provider fails', async () => {
      await startCoordinator();
      await staleSocket(path.join(dir, 'FO', '1-stale.sock'));
      await peer('FO/2-b.sock', (body) => ackText(JSON.parse(body).id, 'b refuses'));
      assert.equal(await rawSend(coordSock, goRequest('f2', 'FO', path.join(dir, 'response', 'c.sock'))), ackText('f2', 'b refuses'));
    });

    it('a lone stale socket gives the dial error, a regular file is not a provider', async () => {
      await startCoordinator();
      const stale = path.join(dir, 'ST', '10-stale.sock');
      await staleSocket(stale);
      assert.equal(await rawSend(coordSock, goRequest('s1', 'ST', path.join(dir, 'response', 'c.sock'))), ackText('s1', `dial unix ${stale}: connect: connection refused`));
      mkdirSync(path.join(dir, 'NF'));
      writeFileSync(path.join(dir, 'NF', '05-notasocket.sock'), '');
      assert.equal(await rawSend(coordSock, goRequest('s2', 'NF', path.join(dir, 'response', 'c.sock'))), ackText('s2', 'no providers available for task'));
    });

    it('answers no provider, and refuses task names that are paths or reserved', async () => {
      await startCoordinator();
      const hook = path.join(dir, 'response', 'c.sock');
      assert.equal(await rawSend(coordSock, goRequest('n1', 'NoSuchTask', hook)), ackText('n1', 'no providers available for task'));
      assert.equal(await rawSend(coordSock, goRequest('n2', 'coordinator', hook)), ackText('n2', 'invalid task name "coordinator"'));
      assert.equal(await rawSend(coordSock, goRequest('n3', '..', hook)), ackText('n3', 'invalid task name ".."'));
      assert.equal(await rawSend(coordSock, goRequest('n4', 'a/b', hook)), ackText('n4', 'invalid task name "a/b"'));
    });

    it('notices providers that appear and disappear while running', async () => {
      await startCoordinator();
      const hook = path.join(dir, 'response', 'c.sock');
      assert.equal(await rawSend(coordSock, goRequest('a1', 'Late', hook)), ackText('a1', 'no providers available for task'));
      const late = await peer('Late/50-late.sock', (body) => ackText(JSON.parse(body).id));
      assert.equal(await rawSend(coordSock, goRequest('a2', 'Late', hook)), ackText('a2', ''));
      assert.equal(late.received.length, 1);
      await late.close();
      peers.splice(peers.indexOf(late), 1);
      assert.equal(await rawSend(coordSock, goRequest('a3', 'Late', hook)), ackText('a3', 'no providers available for task'));
    });

    it('refuses a unix response hook outside the allowed directories when allowedHookDirs is set', async () => {
      await startCoordinator({ allowedHookDirs: [dir] });
      await peer('T/50-p.sock', (body) => ackText(JSON.parse(body).id));
      assert.equal(await rawSend(coordSock, goRequest('h1', 'T', '/tmp/elsewhere.sock')), ackText('h1', 'responseHook: unix socket /tmp/elsewhere.sock is outside the allowed directories'));
    });
  });

  describe('framing edge cases (hand-built bytes)', () => {
    it('delivers to a client whose response socket lies in the system temp directory (the acomm default), outside socketDir', async () => {
      await startCoordinator();
      const tmpHookDir = mkdtempSync(path.join(os.tmpdir(), 'acomm-client-'));
      const hook = await rawPeer(path.join(tmpHookDir, 'response.sock'));
      peers.push(hook);
      try {
        const provider = await peer('CPUInfo/50-fake.sock', (body) => ackText(JSON.parse(body).id));
        assert.equal(await rawSend(coordSock, goRequest('tmp1', 'CPUInfo', hook.path)), ackText('tmp1', ''));
        const forwarded = JSON.parse(await provider.next());
        assert.equal(forwarded.responseHook.Path, hook.path);
        assert.equal(await rawSend(hook.path, `{"error":"","id":"tmp1","result":"ok","streamURL":null}`), ackText(''));
        assert.equal(JSON.parse(await hook.next()).result, 'ok');
      } finally {
        rmSync(tmpHookDir, { recursive: true, force: true });
      }
    });

    it('decodes a frame that arrives one byte at a time', async () => {
      await startCoordinator();
      const bytes = frame(goRequest('b1', 'NoTask', path.join(dir, 'response', 'c.sock')));
      const chunks = [...bytes].map((b) => Buffer.from([b]));
      const { frames } = await rawExchange(coordSock, chunks, { gapMs: 1 });
      assert.deepEqual(frames, [ackText('b1', 'no providers available for task')]);
    });

    it('reads a provider ack that arrives one byte at a time while other sends read theirs whole', async () => {
      // Every send reads its ack into one shared buffer: a partial ack must be kept apart from the reads that follow.
      await startCoordinator();
      const hook = path.join(dir, 'response', 'c.sock');
      await peer('Slow/50-slow.sock', (body) => ackText(JSON.parse(body).id), { ackByteGapMs: 2 });
      await peer('Fast/50-fast.sock', (body) => ackText(JSON.parse(body).id));
      const slow = rawSend(coordSock, goRequest('s1', 'Slow', hook));
      const fast = Array.from({ length: 30 }, (_, i) => rawSend(coordSock, goRequest(`f${i}`, 'Fast', hook)));
      assert.deepEqual(await Promise.all(fast), Array.from({ length: 30 }, (_, i) => ackText(`f${i}`, '')));
      assert.equal(await slow, ackText('s1', ''));
    });

    it('refuses an oversized length header without reading the body', async () => {
      await startCoordinator({ maxFrameBytes: 1024 * 1024 });
      const { frames } = await rawExchange(coordSock, [header(0x7fffffff), Buffer.from('{"id"')]);
      assert.deepEqual(frames, [ackText('', 'frame too large: 2147483647 bytes exceeds the maximum of 1048576')]);
    });

    it('answers a truncated frame with unexpected EOF, and an empty one with EOF', async () => {
      await startCoordinator();
      const body = goRequest('t1', 'NoTask', null);
      const truncated = await rawExchange(coordSock, [header(body.length + 10), Buffer.from(body)], { halfClose: true });
      assert.deepEqual(truncated.frames, [ackText('', 'failed to unmarshal request: unexpected EOF')]);
      const empty = await rawExchange(coordSock, [], { halfClose: true });
      assert.deepEqual(empty.frames, [ackText('', 'failed to unmarshal request: EOF')]);
      const zero = await rawExchange(coordSock, [header(0)]);
      assert.deepEqual(zero.frames, [ackText('', 'failed to unmarshal request: EOF')]);
    });

    it('answers garbage JSON with an error ack and keeps serving', async () => {
      await startCoordinator();
      const garbage = await rawExchange(coordSock, [frame('{"id": x}')]);
      assert.equal(garbage.frames.length, 1);
      const ack = JSON.parse(garbage.frames[0]!);
      assert.equal(ack.id, '');
      assert.match(ack.error, /^failed to unmarshal request: /);
      assert.equal(await rawSend(coordSock, goRequest('ok', 'NoTask', path.join(dir, 'response', 'c.sock'))), ackText('ok', 'no providers available for task'));
    });

    it('ignores bytes after the JSON value inside the frame, and a second frame on the connection', async () => {
      await startCoordinator();
      const withGarbage = await rawExchange(coordSock, [frame(`${goRequest('g1', 'NoTask', path.join(dir, 'response', 'c.sock'))}GARBAGE`)]);
      assert.deepEqual(withGarbage.frames, [ackText('g1', 'no providers available for task')]);
      const two = Buffer.concat([frame(goRequest('g2', 'NoTask', path.join(dir, 'response', 'c.sock'))), frame(goRequest('g3', 'NoTask', null))]);
      const twice = await rawExchange(coordSock, [two]);
      assert.deepEqual(twice.frames, [ackText('g2', 'no providers available for task')]);
    });

    it('validates: missing id, missing task, missing responseHook', async () => {
      await startCoordinator();
      assert.equal(await rawSend(coordSock, '{"task":"CPUInfo"}'), ackText('', 'missing id'));
      assert.equal(await rawSend(coordSock, '{"id":"x"}'), ackText('x', 'missing task'));
      assert.equal(await rawSend(coordSock, '{"id":"x","task":"CPUInfo"}'), ackText('x', 'missing responseHook'));
    });

    it('response socket: acks unknown ids, closes without ack on garbage', async () => {
      await startCoordinator();
      assert.equal(await rawSend(responseSock, '{"error":"","id":"unknown","result":1,"streamURL":null}'), ackText(''));
      const garbage = await rawExchange(responseSock, [frame('{"id": x}')]);
      assert.deepEqual(garbage.frames, []);
      const stringStream = await rawExchange(responseSock, [frame('{"id":"a","streamURL":"asdf"}')]);
      assert.deepEqual(stringStream.frames, []);
    });

    it('a client that connects and says nothing is cut off at the read deadline', async () => {
      await startCoordinator({ readTimeoutMs: 100 });
      const t0 = Date.now();
      const silent = await rawExchange(coordSock, []);
      assert.ok(Date.now() - t0 < 2000);
      assert.deepEqual(silent.frames, [ackText('', 'failed to unmarshal request: timeout: no complete frame within 100 ms')]);
    });
  });

  describe('tracking', () => {
    it('a provider that accepts but never answers gets a timeout response delivered', async () => {
      await startCoordinator({}, { requestTimeoutMs: 150 });
      await peer('Silent/50-p.sock', (body) => ackText(JSON.parse(body).id));
      const t0 = Date.now();
      const response = await runtime.inject({ task: 'Silent', id: 'quiet' });
      assert.equal(response.error, 'response timeout');
      assert.equal(response.id, 'quiet');
      assert.ok(Date.now() - t0 >= 140);
    });

    it('200 concurrent requests through a provider are all answered and matched by id', async function () {
      this.timeout(30_000);
      await startCoordinator();
      const provider = createProvider({ socketDir: dir, name: 'echoer', coordinatorUrl: `unix://${coordSock}`, tasks: { Echo: (args: { n: number }) => ({ n: args.n, doubled: args.n * 2 }) } });
      providers.push(provider);
      await provider.start();
      const responses = await Promise.all(Array.from({ length: 200 }, (_, n) => runtime.inject({ task: 'Echo', id: `c${n}`, args: { n } })));
      responses.forEach((response, n) => {
        assert.equal(response.id, `c${n}`);
        assert.equal(response.error, '');
        assert.deepEqual(response.result, { n, doubled: n * 2 });
      });
      assert.equal(runtime.inFlight, 0);
    });
  });

  describe('provider SDK', () => {
    it('registers one socket per task with its priority and answers errors with the provider/task prefix', async () => {
      await startCoordinator();
      const provider = createProvider({
        socketDir: dir, name: 'provider-simple', priority: 50, coordinatorUrl: `unix://${coordSock}`,
        tasks: {
          CPUInfo: { priority: 7, handler: (args: { guest_id?: string } | null) => { if (!args?.guest_id) throw new Error('missing guest_id'); return [{ processor: 0, mhz: 2600 }]; } },
          DiskInfo: () => [{ Device: 'vda1', Size: 10737418240 }],
        },
      });
      providers.push(provider);
      await provider.start();
      assert.ok(statSync(path.join(dir, 'CPUInfo', '7-provider-simple.sock')).isSocket());
      assert.ok(statSync(path.join(dir, 'DiskInfo', '50-provider-simple.sock')).isSocket());
      const bad = await runtime.inject({ task: 'CPUInfo' });
      assert.equal(bad.error, 'provider-simple CPUInfo: missing guest_id');
      assert.deepEqual(await runtime.call('CPUInfo', { guest_id: 'g' }), [{ processor: 0, mhz: 2600 }]);
      // Raw provider-socket validation, as a Go provider.
      assert.equal(await rawSend(path.join(dir, 'DiskInfo', '50-provider-simple.sock'), '{"id":"x"}'), ackText('x', 'missing task'));
      assert.equal(await rawSend(path.join(dir, 'DiskInfo', '50-provider-simple.sock'), '{"task":"x"}'), ackText('', 'missing id'));
      await provider.stop();
      providers.pop();
      assert.ok(!existsSync(path.join(dir, 'DiskInfo', '50-provider-simple.sock')), 'stop deregisters');
    });

    it('fans out through the coordinator from inside a task (SystemStatus)', async () => {
      await startCoordinator();
      const provider = createProvider({
        socketDir: dir, name: 'simple', coordinatorUrl: `unix://${coordSock}`,
        tasks: {
          CPUInfo: () => [{ processor: 0 }],
          DiskInfo: () => { throw new Error('disk gone'); },
          SystemStatus: async (args, ctx) => {
            const parts = await ctx.fanOut({ cpus: { task: 'CPUInfo', args }, disks: { task: 'DiskInfo', args } }, { timeoutMs: 2000 });
            return { cpus: parts.cpus!.error ? null : parts.cpus!.result, disks: parts.disks!.error ? null : parts.disks!.result };
          },
        },
      });
      providers.push(provider);
      await provider.start();
      assert.deepEqual(await runtime.call('SystemStatus', { guest_id: 'g' }), { cpus: [{ processor: 0 }], disks: null });
    });

    it('enforces per-task timeouts (the original read them but never used them)', async () => {
      await startCoordinator();
      const provider = createProvider({ socketDir: dir, name: 'slow', tasks: { Slow: { timeoutMs: 50, handler: () => delay(1000) } } });
      providers.push(provider);
      await provider.start();
      const response = await runtime.inject({ task: 'Slow' });
      assert.equal(response.error, 'slow Slow: task timeout after 50 ms');
    });

    it('streams a handler result through a one-shot unix socket to a unix hook (StreamEcho)', async () => {
      await startCoordinator();
      const provider = createProvider({ socketDir: dir, name: 'streamer', tasks: { StreamEcho: (args) => ({ stream: JSON.stringify(args) }) } });
      providers.push(provider);
      await provider.start();
      const hook = await peer('response/client.sock');
      assert.equal(await rawSend(coordSock, goRequest('st', 'StreamEcho', hook.path, '{"a":1}')), ackText('st', ''));
      const response = JSON.parse(await hook.next());
      assert.equal(response.streamURL.Scheme, 'unix');
      const streamPath: string = response.streamURL.Path;
      assert.ok(streamPath.startsWith(path.join(dir, 'streams', 'StreamEcho', 'streamer')));
      const { raw } = await rawExchange(streamPath, []);
      assert.equal(raw.toString(), '{"a":1}');
      assert.ok(!existsSync(streamPath), 'one-shot stream socket is gone after reading');
    });

    it('in-process tasks and unix providers serve side by side', async () => {
      runtime = makeRuntime({ socketDir: dir, serviceName: 'coord1' }, [inProcessProvider({ tasks: { Local: () => 'local' } }), unixTransport()]);
      await runtime.start();
      const provider = createProvider({ socketDir: dir, name: 'remote', tasks: { Remote: () => 'remote' } });
      providers.push(provider);
      await provider.start();
      assert.equal(await runtime.call('Local'), 'local');
      assert.equal(await runtime.call('Remote'), 'remote');
    });
  });
});

describe('acks read without decoding', () => {
  it('only the plain acceptance skips the decoder, and it always means accepted', () => {
    const plain = ['', 'r1', 'a-b_c.d 1', 'ü€'].map((id) => encodeAck(id, ''));
    for (const ack of plain) {
      assert.equal(isPlainAcceptance(Buffer.from(ack)), true, ack);
      assert.equal(isPlainAcceptanceText(ack), true, ack);
    }
    const others = [
      encodeAck('r1', 'no provider'),
      encodeAck('q"uote', ''),
      encodeAck('back\\slash', ''),
      encodeAck('new\nline', ''),
      '{"error":"","id":"r1","result":null,"streamURL":null}\n',
      '{"error":"","id":"r1","result":null,"streamURL":null,"error":"late"}',
      '{"error":"","id":"r1","error":"x","result":null,"streamURL":null}',
      '{"error":"","id":"r1\x01","result":null,"streamURL":null}',
      '{"error": "","id":"r1","result":null,"streamURL":null}',
      '{"error":"","id":"',
    ];
    for (const ack of others) {
      assert.equal(isPlainAcceptance(Buffer.from(ack)), false, ack);
      assert.equal(isPlainAcceptanceText(ack), false, ack);
    }
    fc.assert(fc.property(fc.string(), fc.string(), (id, error) => {
      const text = encodeAck(id, error);
      const ack = Buffer.from(text);
      // The bytes and the text (an HTTP hook's answer, read as UTF-8) agree, and a plain acceptance always decodes as accepted.
      assert.equal(isPlainAcceptanceText(ack.toString('utf8')), isPlainAcceptance(ack));
      if (isPlainAcceptance(ack)) assert.equal(decodeResponse(ack, { firstValue: true }).error, '');
      if (error !== '') assert.equal(isPlainAcceptance(ack), false);
    }), { numRuns: 2000 });
  });
});
