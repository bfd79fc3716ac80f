// The plugin author's kit (coordinator-runtime/testing), used as a plugin
// author would: a runtime with chosen plugins and no sockets, requests
// injected through the pipeline, HTTP injected without a port, a captured
// log, a fake unix provider, fake control-channel peers.
import assert from 'node:assert/strict';
import path from 'node:path';
import { definePlugin, httpServer, inProcessProvider, keyAuth, operations, streamingControl, unixTransport, type HttpServerService } from '../index.js';
import { createTestRuntime, startFakeProvider, ControlPeer, mintToken, until } from '../testing/index.js';
import { tempSocketDir } from './support/sockets.js';

const stamp = definePlugin<{ label: string }>({
  name: 'stamp',
  optionsSchema: { type: 'object', properties: { label: { type: 'string', default: 'stamped' } } },
  apply(api, options) {
    api.hooks.onRequest.tap(api.name, (request, ctx) => {
      ctx.log.info({ task: request.task }, 'stamping');
      return { ...request, args: { ...(request.args as object), label: options.label } };
    });
  },
});

describe('testing kit', function () {
  this.timeout(20_000);

  it('runs a plugin in a runtime without sockets, injects requests and reads the log', async () => {
    const t = createTestRuntime({ plugins: [stamp({ label: 'ok' }), inProcessProvider({ tasks: { Echo: (args) => args } })] });
    await t.start();
    try {
      const response = await t.request({ task: 'Echo', args: { a: 1 } });
      assert.deepEqual(response.result, { a: 1, label: 'ok' });
      const missing = await t.request({ task: 'Nope' });
      assert.equal(missing.errorCode, 'ERR_NO_PROVIDER');
      assert.equal(t.logs.find('stamping').length, 2);
    } finally {
      await t.stop();
    }
  });

  it('injects HTTP requests into the server without binding a port', async () => {
    const t = createTestRuntime({ plugins: [httpServer({ listen: false }), operations({ processMetrics: false })] });
    await t.start();
    try {
      assert.equal(t.runtime.service('http.server').address(), undefined, 'a port was bound');
      const health = await t.http('/healthz');
      assert.equal(health.statusCode, 200);
      assert.equal(health.json().status, 'alive');
      const status = await t.http({ method: 'GET', url: '/status', headers: { authorization: 'Bearer nope' } });
      assert.equal(status.statusCode, 401);
    } finally {
      await t.stop();
    }
  });

  it('a fake unix provider serves a task through the unix transport', async () => {
    const { dir, cleanup } = tempSocketDir();
    const t = createTestRuntime({ config: { socketDir: dir, serviceName: 'kit' }, plugins: [unixTransport()] });
    await t.start();
    const provider = await startFakeProvider({ socketDir: dir, name: 'fake', coordinatorUrl: `unix://${path.join(dir, 'coordinator', 'kit.sock')}`, tasks: { Add: (args: { a: number; b: number }) => args.a + args.b } });
    try {
      assert.equal((await t.request({ task: 'Add', args: { a: 2, b: 3 } })).result, 5);
    } finally {
      await provider.stop();
      await t.stop();
      cleanup();
    }
  });

  it('fake control-channel peers: an encoder registers and an ingest server publishes', async () => {
    const t = createTestRuntime({ env: { CONTROL_SECRET: 'kit-secret' }, plugins: [httpServer({ port: 0 }), keyAuth(), streamingControl()] });
    await t.start();
    const base = t.runtime.service('http.server').baseUrl();
    const encoder = await ControlPeer.connect(base, '/ws/control/hls', { 'x-control-auth-token': mintToken('kit-secret', { sub: 'hls-control' }) });
    const ingest = await ControlPeer.connect(base, '/ws/control/rtmp', { 'x-control-auth-token': mintToken('kit-secret', { sub: 'rtmp-control' }) });
    try {
      encoder.send('REGISTER', { Capacity: 1 });
      await until(() => t.logs.find(/control session open/).length >= 2);
      ingest.send('PUBLISH-REQUEST', { 'Request-ID': '1', 'Stream-Channel': 'kit', 'Stream-Key': 'k' });
      const accept = await ingest.next('PUBLISH-ACCEPT');
      assert.equal(accept.args['request-id'], '1');
      assert.equal((await encoder.next('ENCODE-START')).args['stream-channel'], 'kit');
    } finally {
      encoder.close();
      ingest.close();
      await t.stop();
    }
  });
});
