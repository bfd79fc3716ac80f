// The cluster plugin as a user configures it: embedded by default; NATS_URL
// (or engine 'nats') joins coordinators on a real nats-server; /status and
// `coordinator status` show the members; a node that leaves is gone from
// the list, and a wrong setting is refused before anything starts.
import assert from 'node:assert/strict';
import { cluster, httpServer, operations } from '../../index.js';
import type { Coordinator } from '../../core/runtime.js';
import { formatSnapshot } from '../../bin/status.js';
import type { Snapshot } from '../../plugins/operations/snapshot.js';
import { makeRuntime } from '../support/runtime.js';
import { get } from '../support/http.js';
import { startNatsServer, type NatsServer } from '../support/nats.js';

const ENV = { COMMANDS_API_AUTH: 'Bearer', COMMANDS_API_AUTH_TOKEN: 't' };

async function status(runtime: Coordinator): Promise<Snapshot> {
  const res = await fetch(`${runtime.service('http.server').baseUrl()}/status`, { headers: { authorization: 'Bearer t' } });
  assert.equal(res.status, 200);
  return await res.json() as Snapshot;
}

describe('cluster plugin', function () {
  this.timeout(30_000);
  let nats: NatsServer;
  const runtimes: Coordinator[] = [];
  before(async () => { nats = await startNatsServer(); });
  after(async () => { await nats.stop(); });
  afterEach(async () => {
    for (const r of runtimes.splice(0)) await r.stop();
  });

  it('embedded by default: this node is the whole cluster', async () => {
    const runtime = makeRuntime({}, [httpServer({ port: 0 }), cluster({ nodeId: 'solo' }), operations()], ENV);
    runtimes.push(runtime);
    await runtime.start();
    const s = await status(runtime);
    assert.deepEqual({ engine: s.cluster!.engine, node: s.cluster!.nodeId, members: s.cluster!.members.map((m) => m.node) }, { engine: 'embedded', node: 'solo', members: ['solo'] });
  });

  it('NATS_URL joins coordinators on one NATS: every node lists every member; one that stops leaves the list', async () => {
    const node = (id: string) => makeRuntime({}, [httpServer({ port: 0 }), cluster({ heartbeatMs: 100, deadAfterMs: 1000, prefix: 'plugin' }), operations()], { ...ENV, NATS_URL: nats.url, COORDINATOR_NODE_ID: id });
    const [a, b] = [node('node-a'), node('node-b')];
    runtimes.push(a, b);
    await a.start();
    await b.start();
    const s = await status(a);
    assert.equal(s.cluster!.engine, 'nats');
    assert.deepEqual(s.cluster!.members.map((m) => m.node).sort(), ['node-a', 'node-b']);
    const text = formatSnapshot(s);
    assert.match(text, /cluster \(nats\): this node node-a; 2 member\(s\)/);
    assert.match(text, /node-b/);
    await b.stop();
    runtimes.splice(runtimes.indexOf(b), 1);
    let members = 2;
    for (let i = 0; i < 50 && members !== 1; i += 1) {
      members = (await status(a)).cluster!.members.length;
      if (members !== 1) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(members, 1, 'a node that stopped left the list');
    assert.equal((await get(`${a.service('http.server').baseUrl()}/readyz`)).status, 200);
  });

  it('refuses a death timeout shorter than two heartbeats, and a bad node id, before starting', async () => {
    const runtime = makeRuntime({}, [cluster({ engine: 'nats', servers: [nats.url], heartbeatMs: 1000, deadAfterMs: 1500 })]);
    await assert.rejects(runtime.start(), /deadAfterMs \(1500\) must be at least two heartbeats/);
    const badId = makeRuntime({}, [cluster({ nodeId: 'has space' })]);
    await assert.rejects(badId.start(), /nodeId/);
  });
});
