// OpenTelemetry tracing, exported over OTLP/HTTP to an in-process receiver
// (a real HTTP server decoding the OTLP JSON the SDK's exporter sends): a span
// per request, child of the caller's W3C traceparent, with the hook taps as
// child spans; the request span's traceparent sent on to the HTTP response
// hook, and each event callback traced with its own traceparent.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { definePlugin, eventCallbacks, httpIngress, httpServer, inProcessProvider, makeEvent, STREAM_AVAILABLE, tracing } from '../../index.js';
import type { Coordinator } from '../../core/runtime.js';
import { makeRuntime, until } from '../support/runtime.js';
import { hookServer, post, type HookServer } from '../support/http.js';
import { ROOT } from '../support/processes.js';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Array<{ key: string; value: { stringValue?: string; intValue?: number | string } }>;
  status?: { code?: number; message?: string };
}

/** An OTLP/HTTP traces receiver: collects every span it is sent. */
async function otlpReceiver(): Promise<{ url: string; spans: OtlpSpan[]; contentTypes: string[]; close(): Promise<void> }> {
  const spans: OtlpSpan[] = [];
  const contentTypes: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      contentTypes.push(String(req.headers['content-type']));
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: OtlpSpan[] }> }> };
      for (const rs of body.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`,
    spans,
    contentTypes,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

const attr = (span: OtlpSpan, key: string) => {
  const v = span.attributes.find((a) => a.key === key)?.value;
  return v?.stringValue ?? (v?.intValue !== undefined ? Number(v.intValue) : undefined);
};
const parts = (traceparent: string) => {
  const [, traceId, spanId, flags] = traceparent.split('-');
  return { traceId: traceId!, spanId: spanId!, flags: flags! };
};

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';
const greeter = definePlugin({
  name: 'greeter',
  apply(api) {
    api.hooks.onRequest.tap('greeter', (request) => request);
    api.hooks.onResponse.tapPromise('greeter', async (response) => response);
  },
});

describe('tracing: OpenTelemetry spans over OTLP, W3C traceparent in and out', function () {
  this.timeout(30_000);
  let runtime: Coordinator | undefined;
  let hook: HookServer;
  let app: HookServer;
  let dataDir: string;

  beforeEach(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'coord-tracing-'));
    hook = await hookServer();
    app = await hookServer(() => ({ body: 'ok' }));
  });
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
    await hook.close();
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  function acomm(id: string, task: string): string {
    return JSON.stringify({ id, task, args: { name: 'otel' }, responseHook: { Scheme: 'http', Host: `127.0.0.1:${hook.port}`, Path: '/response' } });
  }

  it('a request span under the caller\'s trace, tap spans under it, its traceparent on the response hook; callbacks traced', async () => {
    const receiver = await otlpReceiver();
    try {
      runtime = makeRuntime({ dataDir }, [
        httpServer({ port: 0 }), httpIngress(), greeter(), inProcessProvider({ tasks: { Hello: (args: { name: string }) => `hello ${args.name}` } }),
        eventCallbacks(), tracing({ endpoint: receiver.url, exportIntervalMs: 50, serviceName: 'coordinator-under-test' }),
      ], { EVENT_CALLBACK_URL: app.url('/events') });
      await runtime.start();
      const base = runtime.service('http.server').baseUrl();

      const ack = await post(`${base}/`, acomm('traced-1', 'Hello'), { traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01`, tracestate: 'vendor=abc' });
      assert.equal(ack.status, 200, ack.body);
      const delivered = await hook.next();
      assert.match(delivered.body, /hello otel/);
      const sent = parts(String(delivered.headers.traceparent));
      assert.equal(sent.traceId, TRACE_ID, 'the hook is called within the caller\'s trace');
      assert.notEqual(sent.spanId, CALLER_SPAN, 'with our request span as its parent');
      assert.equal(sent.flags, '01');
      assert.equal(delivered.headers.tracestate, 'vendor=abc');

      // A request that fails is a span with an error status; a malformed traceparent starts a new trace.
      const failed = await post(`${base}/`, acomm('traced-2', 'NoSuchTask'), { traceparent: 'not-a-traceparent' });
      assert.notEqual(failed.status, 200);

      await runtime.emit(makeEvent(STREAM_AVAILABLE, { channel: 'ch', streamId: 'S1', streamType: 'HLS-LIVE', resolution: '1280x720-30', indexFile: 'i.m3u8' }));
      const callback = await app.next();
      const callbackTrace = parts(String(callback.headers.traceparent));
      assert.match(callbackTrace.traceId, /^[0-9a-f]{32}$/);
      // Spans are exported in batches while the coordinator runs (those still open at stop are flushed then).
      await until(() => receiver.spans.some((s) => s.name === 'callback stream-available'), 5000);

      await runtime.stop();
      runtime = undefined;
      assert.ok(receiver.contentTypes.every((t) => t.startsWith('application/json')), 'OTLP/HTTP JSON');

      const requestSpan = receiver.spans.find((s) => s.name === 'request Hello')!;
      assert.ok(requestSpan, `spans: ${receiver.spans.map((s) => s.name).join(', ')}`);
      assert.equal(requestSpan.traceId, TRACE_ID);
      assert.equal(requestSpan.parentSpanId, CALLER_SPAN);
      assert.equal(requestSpan.spanId, sent.spanId, 'the hook got the request span as parent');
      assert.equal(requestSpan.kind, 2, 'SERVER');
      assert.equal(attr(requestSpan, 'coordinator.request.id'), 'traced-1');
      assert.equal(attr(requestSpan, 'coordinator.origin'), 'http');
      assert.equal(attr(requestSpan, 'coordinator.outcome'), 'ok');

      const children = receiver.spans.filter((s) => s.parentSpanId === requestSpan.spanId).map((s) => s.name).sort();
      assert.ok(children.includes('onRequest greeter'), `children: ${children.join(', ')}`);
      assert.ok(children.includes('onResponse greeter'), `children: ${children.join(', ')}`);
      assert.ok(children.includes('resolveProvider inproc-provider'), `children: ${children.join(', ')}`);
      for (const child of receiver.spans.filter((s) => s.parentSpanId === requestSpan.spanId)) assert.equal(child.traceId, TRACE_ID);

      const failedSpan = receiver.spans.find((s) => attr(s, 'coordinator.request.id') === 'traced-2')!;
      assert.ok(failedSpan);
      assert.notEqual(failedSpan.traceId, TRACE_ID);
      assert.equal(failedSpan.parentSpanId || undefined, undefined, 'a root span');
      assert.equal(failedSpan.status?.code, 2, 'ERROR');
      assert.equal(attr(failedSpan, 'coordinator.outcome'), 'ERR_NO_PROVIDER');

      const callbackSpan = receiver.spans.find((s) => s.name === 'callback stream-available')!;
      assert.ok(callbackSpan);
      assert.equal(callbackSpan.spanId, callbackTrace.spanId);
      assert.equal(callbackSpan.traceId, callbackTrace.traceId);
      assert.equal(callbackSpan.kind, 3, 'CLIENT');
      assert.equal(attr(callbackSpan, 'coordinator.delivery.id'), callback.headers['x-delivery-id']);
    } finally {
      await receiver.close();
    }
  });

  it('without the tracing plugin the caller\'s traceparent passes through to the hook unchanged', async () => {
    runtime = makeRuntime({}, [httpServer({ port: 0 }), httpIngress(), inProcessProvider({ tasks: { Hello: () => 'hi' } })]);
    await runtime.start();
    const base = runtime.service('http.server').baseUrl();
    const traceparent = `00-${TRACE_ID}-${CALLER_SPAN}-01`;
    assert.equal((await post(`${base}/`, acomm('plain-1', 'Hello'), { traceparent })).status, 200);
    assert.equal((await hook.next()).headers.traceparent, traceparent);
    // Malformed or all-zero values are not passed on.
    for (const bad of ['00-00000000000000000000000000000000-00f067aa0ba902b7-01', `ff-${TRACE_ID}-${CALLER_SPAN}-01`, `00-${TRACE_ID}-${CALLER_SPAN}-01-extra`]) {
      assert.equal((await post(`${base}/`, acomm(`plain-${bad.length}-${bad.slice(0, 2)}`, 'Hello'), { traceparent: bad })).status, 200);
      assert.equal((await hook.next()).headers.traceparent, undefined, bad);
    }
  });

  it('`coordinator start` adds tracing when OTEL_EXPORTER_OTLP_ENDPOINT is set, not otherwise', () => {
    const names = (env: Record<string, string>) => (JSON.parse(execFileSync(process.execPath, [path.join(ROOT, 'bin', 'coordinator.js'), 'plugins', '--json'], {
      cwd: dataDir, encoding: 'utf8', env: { ...process.env, ...env },
    })) as Array<{ name: string }>).map((p) => p.name);
    assert.ok(names({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }).includes('tracing'));
    assert.ok(!names({}).includes('tracing'));
    assert.ok(!names({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'true' }).includes('tracing'));
  });

  it('bounds the request spans open at once', async () => {
    const receiver = await otlpReceiver();
    try {
      runtime = makeRuntime({}, [inProcessProvider({ tasks: { Slow: () => new Promise((resolve) => setTimeout(() => resolve('done'), 200)) } }), tracing({ endpoint: receiver.url, maxOpenRequests: 2, exportIntervalMs: 50 })]);
      await runtime.start();
      const calls = Array.from({ length: 5 }, (_, i) => runtime!.inject({ id: `slow-${i}`, task: 'Slow' }));
      assert.equal(runtime.service('tracing').openRequests, 2);
      await Promise.all(calls);
      assert.equal(runtime.service('tracing').openRequests, 0);
      await runtime.stop();
      runtime = undefined;
      await until(() => receiver.spans.length > 0, 5000);
      assert.equal(receiver.spans.filter((s) => s.name === 'request Slow').length, 2);
    } finally {
      await receiver.close();
    }
  });
});
