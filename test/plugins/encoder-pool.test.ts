// The O(log n) encoder pool against a linear-scan model, over random operations.
import assert from 'node:assert/strict';
import { EncoderPool } from '../../index.js';

interface ModelEncoder { id: number; capacity: number; load: number; draining: boolean }

function modelChoice(model: Map<number, ModelEncoder>): number | undefined {
  let best: ModelEncoder | undefined;
  for (const e of model.values()) {
    if (e.draining || !(e.capacity < 0 || e.load < e.capacity)) continue;
    if (!best || e.load < best.load || (e.load === best.load && e.id < best.id)) best = e;
  }
  return best?.id;
}

describe('encoder pool', () => {
  it('always chooses what a linear scan would (least load, lowest id), over 20,000 random operations', () => {
    const pool = new EncoderPool();
    const model = new Map<number, ModelEncoder>();
    let seed = 42;
    const random = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
    for (let step = 0; step < 20_000; step += 1) {
      const op = random(10);
      const id = 1 + random(40);
      if (op === 0) {
        const capacity = random(6) - 1;
        pool.register(id, capacity);
        const existing = model.get(id);
        model.set(id, { id, capacity, load: existing?.load ?? 0, draining: existing?.draining ?? false });
      } else if (op === 1) {
        pool.remove(id);
        model.delete(id);
      } else if (op <= 5) {
        const expected = modelChoice(model);
        assert.equal(pool.acquire(), expected, `step ${step}`);
        if (expected !== undefined) model.get(expected)!.load += 1;
      } else if (op <= 8) {
        pool.release(id);
        const e = model.get(id);
        if (e && e.load > 0) e.load -= 1;
      } else {
        const draining = random(2) === 0;
        pool.setDraining(id, draining);
        const e = model.get(id);
        if (e) e.draining = draining;
      }
    }
    const totals = pool.totals();
    assert.equal(totals.encoderCount, model.size);
    assert.equal(totals.load, [...model.values()].reduce((n, e) => n + e.load, 0));
  });

  it('capacity -1 is unlimited, 0 is never chosen, load never goes below 0', () => {
    const pool = new EncoderPool();
    pool.register(1, 0);
    assert.equal(pool.acquire(), undefined);
    pool.register(2, -1);
    for (let i = 0; i < 100; i += 1) assert.equal(pool.acquire(), 2);
    pool.release(1);
    assert.equal(pool.get(1)!.load, 0);
    assert.deepEqual(pool.totals(), { load: 100, capacity: -1, encoderCount: 2 });
  });
});
