// One contract for the cluster state, run against both engines: embedded (one
// process) and nats (a real nats-server with JetStream; several processes
// racing for the same channels). Claims are exclusive and only the holder's
// stream can change or free one; an encoder is written by its owner only;
// membership finds a silent node dead exactly once, on one survivor, and a
// node that comes back after being declared dead fences itself.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { EmbeddedClusterState } from '../../plugins/cluster/embedded.js';
import { NatsClusterState } from '../../plugins/cluster/nats.js';
import type { ClusterState } from '../../plugins/cluster/types.js';
import { startNatsServer, type NatsServer } from '../support/nats.js';
import { ROOT } from '../support/processes.js';
import { delay, until } from '../support/runtime.js';

interface Engine {
  name: string;
  open(nodeId: string): Promise<ClusterState>;
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
}

let nats: NatsServer | undefined;
let prefix = 0;
let currentPrefix = 'c0';
const embedded = new Map<string, EmbeddedClusterState>();

const ENGINES: Engine[] = [
  {
    name: 'embedded',
    // One process is the whole cluster: every "node" shares it.
    open: async () => embedded.get('one') ?? embedded.set('one', new EmbeddedClusterState()).get('one')!,
    teardown: async () => { embedded.clear(); },
  },
  {
    name: 'nats',
    setup: async () => { nats ??= await startNatsServer(); currentPrefix = `c${prefix++}`; },
    open: (nodeId) => NatsClusterState.open({ servers: [nats!.url], nodeId, prefix: currentPrefix, heartbeatMs: 100, deadAfterMs: 600 }),
  },
];

after(async () => { await nats?.stop(); });

for (const engine of ENGINES) {
  describe(`cluster state contract: ${engine.name}`, function () {
    this.timeout(30_000);
    const opened: ClusterState[] = [];
    const open = async (nodeId: string) => { const s = await engine.open(nodeId); opened.push(s); return s; };
    beforeEach(async () => { await engine.setup?.(); });
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
      await engine.teardown?.();
    });

    it('a channel is claimed once, whatever the concurrent attempts; only its stream changes or frees it', async () => {
      const [a, b, c] = await Promise.all([open('a'), open('b'), open('c')]);
      const attempts = await Promise.all(Array.from({ length: 30 }, (_, i) => [a, b, c][i % 3]!.claim({ channel: 'live', streamId: `S${i}`, node: `n${i % 3}`, session: i })));
      assert.equal(attempts.filter(Boolean).length, 1);
      const holder = (await b.claimOf('live'))!;
      assert.ok(holder);
      assert.equal(await c.updateClaim({ ...holder, streamId: 'someone-else' }), false);
      assert.equal(await c.updateClaim({ ...holder, encoder: 7, encoderNode: 'c' }), true);
      assert.equal((await a.claimOf('live'))!.encoder, 7);
      assert.equal(await a.release('live', 'someone-else'), false);
      assert.equal(await a.release('live', holder.streamId), true);
      assert.equal(await a.claimOf('live'), undefined);
      assert.equal(await b.claim({ channel: 'live', streamId: 'next', node: 'b', session: 1 }), true, 'free again after release');
      assert.deepEqual((await c.claims()).map((x) => x.streamId), ['next']);
    });

    it('encoders are written by their owner and seen by every node', async () => {
      const [a, b] = await Promise.all([open('a'), open('b')]);
      await a.setEncoder({ id: 1, capacity: 8, load: 2, draining: false });
      await b.setEncoder({ id: 1, capacity: 4, load: 0, draining: true });
      const seen = (await a.encoders()).map((e) => `${e.node}:${e.id}:${e.load}/${e.capacity}${e.draining ? ':draining' : ''}`).sort();
      assert.deepEqual(seen, engine.name === 'embedded' ? ['embedded:1:0/4:draining'] : ['a:1:2/8', 'b:1:0/4:draining']);
      await b.removeEncoder(1);
      assert.equal((await a.encoders()).filter((e) => e.node === b.nodeId).length, 0);
    });

    it('lists each claim once while other claims are freed during the listing', async () => {
      const [a, b] = await Promise.all([open('a'), open('b')]);
      for (let round = 0; round < 20; round += 1) {
        assert.equal(await a.claim({ channel: `gone${round}`, streamId: `G${round}`, node: 'a', session: 1 }), true);
        assert.equal(await a.claim({ channel: `kept${round}`, streamId: `K${round}`, node: 'a', session: 1 }), true);
        const freeing = delay(round % 3).then(() => a.release(`gone${round}`, `G${round}`));
        const listed = (await b.claims()).map((c) => c.channel);
        assert.equal(await freeing, true);
        assert.equal(new Set(listed).size, listed.length, `listed twice: ${listed.join(',')}`);
        assert.ok(listed.includes(`kept${round}`), `a claim held throughout is listed: ${listed.join(',')}`);
        assert.ok(!listed.includes(`gone${round - 1}`));
      }
    });

    it('routes a request to the node that handles it; an unknown node is an error', async () => {
      const [a, b] = await Promise.all([open('a'), open('b')]);
      a.handle('echo', (body) => ({ from: a.nodeId, body }));
      assert.deepEqual(await b.request(a.nodeId, 'echo', { x: 1 }), { from: a.nodeId, body: { x: 1 } });
      await assert.rejects(b.request('nobody', 'echo', {}, 300), /nobody/);
    });

    if (engine.name !== 'nats') return;

    it('claims are exclusive across processes racing for the same channels', async () => {
      const script = path.join(ROOT, 'test', 'fixtures', 'cluster-claimer.ts');
      const startAt = String(Date.now() + 4000);
      // Nobody leaves (freeing its claims) before everyone has finished racing.
      const leaveAt = String(Number(startAt) + 8000);
      const results = await Promise.all(['p1', 'p2', 'p3'].map((node) => new Promise<{ won: string[]; first: number; last: number }>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', script, nats!.url, currentPrefix, node, '40', startAt, leaveAt], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
        child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
        // A claimer that hangs fails the test with what it printed, well before mocha's timeout.
        const watchdog = setTimeout(() => child.kill('SIGKILL'), 25_000);
        child.once('exit', (code, signal) => {
          clearTimeout(watchdog);
          if (code === 0) resolve(JSON.parse(out.trim().split('\n').pop()!));
          else reject(new Error(`claimer ${node} exited ${code ?? signal}: ${out}`));
        });
      })));
      const runs = results.map((r) => r.won);
      const won = runs.flat().sort();
      assert.equal(won.length, 40, 'every channel has exactly one winner');
      assert.equal(new Set(won).size, 40, 'no channel won twice');
      // The attempts overlapped in time: a real race, not one process after another.
      assert.ok(Math.max(...results.map((r) => r.first)) <= Math.min(...results.map((r) => r.last)), `attempt windows overlap: ${JSON.stringify(results.map((r) => [r.first, r.last, r.won.length]))}`);
    });

    it('a silent node is found dead once, by one survivor; when it comes back it fences itself', async () => {
      const [a, b, c] = await Promise.all([open('a'), open('b'), open('c')]) as NatsClusterState[];
      const deaths: string[] = [];
      b.onMemberDead((node) => { deaths.push(`b saw ${node}`); });
      c.onMemberDead((node) => { deaths.push(`c saw ${node}`); });
      let fenced = 0;
      a.onFenced(() => { fenced += 1; });
      assert.deepEqual((await b.members()).map((m) => m.node).sort(), ['a', 'b', 'c']);
      a.pauseHeartbeats(); // as a process under SIGSTOP
      await until(() => deaths.length > 0, 5000);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(deaths.length, 1, `exactly one survivor cleans up: ${deaths.join(', ')}`);
      assert.match(deaths[0]!, / saw a$/);
      assert.deepEqual((await b.members()).map((m) => m.node).sort(), ['b', 'c']);
      a.resumeHeartbeats(); // SIGCONT: its heartbeat write fails, it stops acting
      await until(() => a.fenced, 3000);
      assert.equal(fenced, 1);
      await assert.rejects(a.claim({ channel: 'x', streamId: 'y', node: 'a', session: 1 }), /declared dead/);
      assert.equal(await b.claim({ channel: 'x', streamId: 'z', node: 'b', session: 1 }), true, 'the live nodes go on');
    });
  });
}
