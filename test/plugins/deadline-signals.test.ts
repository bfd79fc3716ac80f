// One timer aborts every overdue request of a DeadlineSignals, in deadline
// order; finished requests are forgotten and never aborted.
import assert from 'node:assert/strict';
import { DeadlineSignals } from '../../plugins/shared/deadline-signals.js';
import { delay } from '../support/runtime.js';

describe('DeadlineSignals', () => {
  it('aborts what is overdue with a TimeoutError, not what finished', async () => {
    const deadlines = new DeadlineSignals(60);
    const first = deadlines.start();
    const finished = deadlines.start();
    await delay(30);
    const later = deadlines.start();
    finished.done();
    await delay(45);
    assert.equal(first.signal.aborted, true);
    assert.equal((first.signal.reason as DOMException).name, 'TimeoutError');
    assert.equal(finished.signal.aborted, false);
    assert.equal(later.signal.aborted, false, 'its deadline is 30 ms later');
    await delay(40);
    assert.equal(later.signal.aborted, true);
    deadlines.close();
  });

  it('forgets finished ones wherever they sit (first, middle, last; twice is harmless) and aborts the rest in creation order', async () => {
    const deadlines = new DeadlineSignals(30);
    const aborted: number[] = [];
    const tracked = Array.from({ length: 8 }, (_, i) => deadlines.track(() => aborted.push(i)));
    for (const i of [0, 3, 4, 7]) tracked[i]!.done();
    tracked[3]!.done();
    await delay(60);
    assert.deepEqual(aborted, [1, 2, 5, 6]);
    // Done after the abort, and new signals after the list emptied: the timer is armed again.
    tracked[1]!.done();
    const again = deadlines.start();
    await delay(60);
    assert.equal(again.signal.aborted, true);
    deadlines.close();
  });

  it('close() stops the timer: nothing is aborted after it', async () => {
    const deadlines = new DeadlineSignals(20);
    const pending = deadlines.start();
    deadlines.close();
    await delay(40);
    assert.equal(pending.signal.aborted, false);
  });
});
