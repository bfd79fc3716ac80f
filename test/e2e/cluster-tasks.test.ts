// acomm on a cluster: each coordinator advertises the tasks its own provider
// sockets serve; a request for a task served only on another coordinator is
// forwarded there through federation (answer and stream come back through
// the first coordinator), without listing the peer in federationPeers.
import assert from 'node:assert/strict';
import { cluster, createProvider, httpIngress, httpServer, streamProxy, unixTransport, type RunningProvider } from '../../index.js';
import type { Coordinator } from '../../core/runtime.js';
import { makeRuntime, until } from '../support/runtime.js';
import { tempSocketDir } from '../support/sockets.js';
import { get, hookServer, post, type HookServer } from '../support/http.js';
import { startNatsServer, type NatsServer } from '../support/nats.js';

describe('acomm tasks across a cluster (nats engine)', function () {
  this.timeout(30_000);
  const dirs = [tempSocketDir(), tempSocketDir()];
  let nats: NatsServer;
  let a: Coordinator;
  let b: Coordinator;
  let provider: RunningProvider;
  let hooks: HookServer;
  const baseOf = (runtime: Coordinator) => runtime.service('http.server').baseUrl();

  function coordinator(dir: string, id: string): Coordinator {
    return makeRuntime({ socketDir: dir, serviceName: `coord-${id}` }, [
      cluster({ engine: 'nats', servers: [nats.url], nodeId: id, prefix: 'tasks', heartbeatMs: 100, deadAfterMs: 800 }),
      unixTransport(), httpServer({ port: 0 }), httpIngress(), streamProxy(),
    ]);
  }

  before(async () => {
    nats = await startNatsServer();
    provider = createProvider({ socketDir: dirs[1]!.dir, name: 'only-on-b', tasks: { OnB: (args: { k: string }) => ({ result: { served: 'b', k: args.k }, stream: `bytes from B for ${args.k}` }) } });
    await provider.start();
    a = coordinator(dirs[0]!.dir, 'a');
    b = coordinator(dirs[1]!.dir, 'b');
    await a.start();
    await b.start();
    hooks = await hookServer();
  });
  after(async () => {
    await provider.stop();
    await a.stop();
    await b.stop();
    await hooks.close();
    await nats.stop();
    for (const d of dirs) d.cleanup();
  });

  it('a request for a task served only on another coordinator is answered through it, stream included', async () => {
    await until(async () => (await a.service('cluster.state').taskPeers()).some((p) => p.tasks.includes('OnB')), 5000);
    const request = { id: 'far-1', task: 'OnB', responseHook: `http://localhost:${hooks.port}/response`, args: { k: 'v' } };
    const ack = await post(`${baseOf(a)}/`, JSON.stringify(request));
    assert.equal(ack.body, '{"error":"","id":"far-1","result":null,"streamURL":null}');
    const delivered = JSON.parse((await hooks.next()).body);
    assert.equal(delivered.id, 'far-1');
    assert.equal(delivered.error, '');
    assert.deepEqual(delivered.result, { served: 'b', k: 'v' });
    assert.equal(`${delivered.streamURL.Scheme}://${delivered.streamURL.Host}`, baseOf(a), 'the stream URL points at the coordinator the client called');
    assert.equal((await get(`${baseOf(a)}${delivered.streamURL.Path}`)).body, 'bytes from B for v');
  });

  it('a task nobody serves is still ERR_NO_PROVIDER; a stopped coordinator\'s tasks are no longer advertised', async () => {
    const none = await post(`${baseOf(a)}/`, JSON.stringify({ id: 'none-1', task: 'Nobody', responseHook: `http://localhost:${hooks.port}/response` }));
    assert.notEqual(none.status, 200);
    assert.match(JSON.parse(none.body).error, /no provider/i);
    await b.stop();
    await until(async () => !(await a.service('cluster.state').taskPeers()).some((p) => p.tasks.includes('OnB')), 5000);
    // Within the registry's one-second read cache a request may still try the stopped node (and fail); then none does.
    let error = '';
    for (let i = 0; i < 30 && !/no provider/i.test(error); i += 1) {
      error = JSON.parse((await post(`${baseOf(a)}/`, JSON.stringify({ id: `gone-${i}`, task: 'OnB', responseHook: `http://localhost:${hooks.port}/response` }))).body).error;
      if (!/no provider/i.test(error)) await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(error, /no provider/i);
  });
});
