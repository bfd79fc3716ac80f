// Property-based fuzzing (fast-check) of everything that reads bytes a peer
// chose: the frame reader, the request codec, the HTTP ingress body and the
// control message parser. Bounded case counts keep it to seconds. Properties:
// nothing but a CoordinatorError with a catalog code escapes; every bad input
// gets a clear error; a valid request afterwards is answered.
import assert from 'node:assert/strict';
import path from 'node:path';
import fc from 'fast-check';
import { CoordinatorError, ERROR_CATALOG, decodeRequest, decodeResponse, httpIngress, httpServer, inProcessProvider, unixTransport, FrameReader, encodeFrame, parseMessage, serializeMessage, type HttpServerService } from '../../index.js';
import type { Coordinator } from '../../core/runtime.js';
import { makeRuntime } from '../support/runtime.js';
import { tempSocketDir } from '../support/sockets.js';
import { frame, goRequest, rawExchange, rawSend } from '../support/raw-acomm.js';
import { hookServer, post, type HookServer } from '../support/http.js';

/** JSON-ish text: real JSON of request-like shapes, mutated, or arbitrary strings. */
const jsonish = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.json({ maxDepth: 4 }),
  fc.record({
    id: fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.constant(null)),
    task: fc.oneof(fc.string({ maxLength: 20 }), fc.constant(['x'])),
    responseHook: fc.oneof(fc.string({ maxLength: 40 }), fc.webUrl(), fc.constant({ Scheme: 'unix', Path: '/tmp/%zz' }), fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 12 }))),
    streamURL: fc.oneof(fc.constant(null), fc.string({ maxLength: 30 }), fc.webUrl()),
    args: fc.anything({ maxDepth: 3 }),
  }).map((r) => JSON.stringify(r)),
  fc.integer({ min: 1, max: 200 }).map((n) => `{"args":${'['.repeat(n)}${']'.repeat(n)}}`),
);

function assertCatalogError(err: unknown): void {
  assert.ok(err instanceof CoordinatorError, `not a CoordinatorError: ${String(err)}`);
  assert.ok(err.code in ERROR_CATALOG, err.code);
  assert.ok(err.message.length > 0 && err.message.length < 1000);
  assert.doesNotMatch(err.message, /URI malformed|call stack|undefined is not|Cannot read prop/);
}

describe('fuzz: nothing a peer sends escapes as anything but a clear error', function () {
  this.timeout(60_000);

  it('the frame reader: any bytes in any chunks never throw; a whole frame comes back intact', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 12 }), (bytes, cuts) => {
      const reader = new FrameReader(1024);
      let at = 0;
      for (const cut of [...cuts, bytes.length]) {
        const state = reader.push(Buffer.from(bytes.subarray(at, at + cut)));
        at += cut;
        if (state.kind !== 'incomplete') break;
        if (at >= bytes.length) break;
      }
    }), { numRuns: 500 });
    fc.assert(fc.property(fc.string({ maxLength: 500 }), fc.integer({ min: 1, max: 17 }), (text, step) => {
      const bytes = encodeFrame(JSON.stringify(text));
      const reader = new FrameReader(1 << 20);
      let state = reader.push(bytes.subarray(0, 0));
      for (let at = 0; at < bytes.length && state.kind === 'incomplete'; at += step) state = reader.push(bytes.subarray(at, at + step));
      assert.equal(state.kind, 'frame');
      assert.equal(JSON.parse((state as { body: Buffer }).body.toString()), text);
    }), { numRuns: 300 });
  });

  it('the request and response codecs: only catalog errors, with ids kept where readable', () => {
    fc.assert(fc.property(jsonish, fc.boolean(), (text, firstValue) => {
      for (const decode of [decodeRequest, decodeResponse]) {
        try {
          decode(text, { firstValue });
        } catch (err) {
          assertCatalogError(err);
        }
      }
    }), { numRuns: 2000 });
  });

  it('the control message parser never throws, and serialised messages read back', () => {
    fc.assert(fc.property(fc.string({ maxLength: 400 }), (text) => {
      const message = parseMessage(text);
      assert.equal(typeof message.type, 'string');
    }), { numRuns: 2000 });
    const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/);
    const value = fc.string({ maxLength: 40 }).map((v) => v.replace(/[\u0000-\u001f\u007f]/g, '').trim());
    fc.assert(fc.property(name, fc.dictionary(name, value, { maxKeys: 6 }), (type, args) => {
      const parsed = parseMessage(serializeMessage(type, args));
      assert.equal(parsed.type, type.toUpperCase());
      for (const [k, v] of Object.entries(args)) assert.equal(parsed.args.get(k.toLowerCase()), Object.entries(args).filter(([n]) => n.toLowerCase() === k.toLowerCase()).pop()![1], `${k}=${v}`);
    }), { numRuns: 500 });
  });

  describe('real doors', () => {
    let runtime: Coordinator;
    let sockets: ReturnType<typeof tempSocketDir>;
    let hooks: HookServer;
    let base: string;

    before(async () => {
      sockets = tempSocketDir();
      hooks = await hookServer();
      runtime = makeRuntime({ socketDir: sockets.dir, serviceName: 'f', requestTimeoutMs: 2000 }, [unixTransport(), httpServer({ port: 0 }), httpIngress(), inProcessProvider({ tasks: { Ok: () => 'ok' } })]);
      await runtime.start();
      base = runtime.service('http.server').baseUrl();
    });
    after(async () => {
      await runtime.stop();
      await hooks.close();
      sockets.cleanup();
    });

    it('the HTTP ingress body: every body gets an ack with a string error and a known status; then a valid request is answered', async () => {
      await fc.assert(fc.asyncProperty(jsonish, async (text) => {
        const res = await post(`${base}/`, text.replace(/https?:\/\/[^"]*/g, hooks.url('/x')));
        assert.ok([200, 400, 403, 404, 409, 413, 500, 502, 503, 504].includes(res.status), `${res.status} for ${text}`);
        const ack = JSON.parse(res.body);
        assert.equal(typeof ack.error, 'string');
        assert.doesNotMatch(ack.error, /URI malformed|call stack|TypeError|Cannot read/);
      }), { numRuns: 150 });
      const ok = await post(`${base}/`, `{"id":"after-http","task":"Ok","responseHook":${JSON.stringify(hooks.url('/after'))}}`);
      assert.equal(ok.status, 200);
    });

    it('the unix request socket: every frame gets an ack or a clean close; then a valid request is answered', async () => {
      const socket = path.join(sockets.dir, 'coordinator', 'f.sock');
      await fc.assert(fc.asyncProperty(fc.oneof(jsonish.map((t) => frame(t)), fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b))), async (bytes) => {
        const result = await rawExchange(socket, [bytes], { halfClose: true, timeoutMs: 4000 });
        assert.notEqual(result.ended, 'timeout');
        for (const f of result.frames) assert.equal(typeof JSON.parse(f).error, 'string');
      }), { numRuns: 150 });
      const ack = await rawSend(socket, goRequest('after-unix', 'Ok', path.join(sockets.dir, 'response', 'nobody.sock')));
      assert.equal(JSON.parse(ack).error, '');
    });
  });
});
