// The CLI coordinator, the example provider and the example client as three
// processes talking over real unix sockets, as a user runs them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { tempSocketDir } from '../support/sockets.js';
import { ROOT, TSX, startChild, tsNode, type Child } from '../support/processes.js';

describe('examples/providers against `coordinator start`', function () {
  this.timeout(60_000);
  let dir: string;
  let cleanup: () => void;
  let coordinator: Child;
  let provider: Child;
  const env = () => ({ SOCKET_DIR: dir, COORDINATOR_NAME: 'coord-e2e' });

  before(async () => {
    ({ dir, cleanup } = tempSocketDir());
    coordinator = startChild(process.execPath, ['bin/coordinator.js', 'start', '-s', dir, '-n', 'coord-e2e', '-t', '5', '-p', '0', '-l', 'info'], { COORDINATOR_DATA_DIR: `${dir}/data` });
    await coordinator.waitFor(/coordinator ready/);
    provider = startChild(...tsNode('examples/providers/simple.ts'), env());
    await provider.waitFor(/provider-simple listening/);
  });

  after(async () => {
    await provider?.stop();
    await coordinator?.stop();
    cleanup();
  });

  function call(task: string, args: string) {
    return spawnSync(TSX, ['examples/providers/call.ts', task, args], { cwd: ROOT, env: { ...process.env, ...env() }, encoding: 'utf8', timeout: 30_000 });
  }

  it('CPUInfo, and its error with the provider/task prefix', () => {
    const ok = call('CPUInfo', '{"guest_id":"g1"}');
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout.trim(), '[{"processor":0,"mhz":2600},{"processor":1,"mhz":2600}]');
    const bad = call('CPUInfo', '{}');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /error: provider-simple CPUInfo: missing guest_id/);
  });

  it('SystemStatus fans out to CPUInfo and DiskInfo through the coordinator', () => {
    const res = call('SystemStatus', '{"guest_id":"g1"}');
    assert.equal(res.status, 0, res.stderr);
    assert.deepEqual(JSON.parse(res.stdout), {
      cpus: [{ processor: 0, mhz: 2600 }, { processor: 1, mhz: 2600 }],
      disks: [{ Device: 'vda1', Size: 10737418240 }],
    });
  });

  it('StreamEcho returns the args as a stream; DelayedResp answers after its delay', () => {
    const stream = call('StreamEcho', '{"hello":"<world>&"}');
    assert.equal(stream.status, 0, stream.stderr);
    assert.equal(stream.stdout.trim(), '{"hello":"<world>&"}');
    const t0 = Date.now();
    const delayed = call('DelayedResp', '{"delay":1}');
    assert.equal(delayed.status, 0, delayed.stderr);
    assert.ok(Date.now() - t0 >= 1000);
    assert.equal(JSON.parse(delayed.stdout).delay, 1);
    const zero = call('DelayedResp', '{"delay":0}');
    assert.match(zero.stderr, /provider-simple DelayedResp: delay must be positive/);
  });

  it('an unknown task is refused by the coordinator', () => {
    const res = call('NoTask', '{}');
    assert.equal(res.status, 1);
    assert.match(res.stderr, /no providers available for task/);
  });

  it('SIGTERM drains, removes the sockets and exits 0', async () => {
    const code = await coordinator.stop('SIGTERM');
    assert.equal(code, 0);
    assert.match(coordinator.output(), /coordinator stopped/);
    assert.ok(!existsSync(path.join(dir, 'coordinator', 'coord-e2e.sock')));
    assert.ok(!existsSync(path.join(dir, 'response', 'coord-e2e.sock')));
  });
});
