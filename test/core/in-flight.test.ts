// Work a stop waits for: counted while under way, however it ends.
import assert from 'node:assert/strict';
import { InFlight } from '../../core/in-flight.js';
import { delay } from '../support/runtime.js';

describe('InFlight', () => {
  it('counts work until it settles, fulfilled or rejected (a rejection is not left unhandled)', async () => {
    const work = new InFlight();
    let fail!: (err: Error) => void;
    work.track(delay(20));
    work.track(new Promise<void>((_, reject) => { fail = reject; }));
    assert.equal(work.size, 2);
    fail(new Error('the work failed'));
    await delay(1);
    assert.equal(work.size, 1);
    await work.idle();
    assert.equal(work.size, 0);
  });

  it('idle() also waits for work added while waiting; idle() with nothing under way resolves at once', async () => {
    const work = new InFlight();
    await work.idle();
    const order: string[] = [];
    work.track(delay(10).then(() => { order.push('first'); work.track(delay(20).then(() => order.push('added later'))); }));
    await work.idle();
    order.push('idle');
    assert.deepEqual(order, ['first', 'added later', 'idle']);
  });

  it('idleWithin(ms) gives up at the deadline and says so; later waiters are still woken', async () => {
    const work = new InFlight();
    assert.equal(await work.idleWithin(10), true);
    let workDone = false;
    work.track(delay(80).then(() => { workDone = true; }));
    assert.equal(await work.idleWithin(20), false);
    // Gave up at its own deadline, not when the work ended (a time bound here failed on a loaded machine's late timers).
    assert.equal(workDone, false);
    assert.equal(await work.idleWithin(500), true);
  });
});
