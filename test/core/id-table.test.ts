// The tracker's table of requests in flight by id: it must
// behave exactly as the Map it replaced, for any ids and any sequence of
// operations (it differs only in what it leaves for the garbage collector).
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { IdTable } from '../../core/id-table.js';

type Op = { kind: 'set'; id: string; value: number } | { kind: 'delete'; id: string } | { kind: 'clear' };

describe('IdTable', () => {
  it('answers as a Map would after any sequence of sets, deletes and clears', () => {
    // A few ids, so that sets replace and deletes hit; some that a plain object would treat specially.
    const id = fc.oneof(fc.constantFrom('a', 'b', '__proto__', 'constructor', 'toString', '0', '42', '4294967295', ''), fc.string({ maxLength: 3 }));
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant('set' as const), id, value: fc.integer() }) },
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('delete' as const), id }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'clear' as const }) },
    );
    fc.assert(fc.property(fc.array(op, { maxLength: 200 }), fc.array(id, { maxLength: 20 }), (ops, probes) => {
      const table = new IdTable<{ value: number }>();
      const model = new Map<string, { value: number }>();
      for (const o of ops) {
        if (o.kind === 'set') {
          const entry = { value: o.value };
          table.set(o.id, entry);
          model.set(o.id, entry);
        } else if (o.kind === 'delete') {
          assert.equal(table.delete(o.id), model.delete(o.id));
        } else {
          table.clear();
          model.clear();
        }
        assert.equal(table.size, model.size);
      }
      for (const p of [...probes, ...model.keys()]) {
        assert.equal(table.get(p), model.get(p));
        assert.equal(table.has(p), model.has(p));
      }
      // The same entries (the same objects), in insertion order.
      const values = table.values();
      const expected = [...model.values()];
      assert.equal(values.length, expected.length);
      values.forEach((v, i) => assert.equal(v, expected[i]));
    }), { numRuns: 300 });
  });

  it('reuses emptied slots, and lets go of its arrays when a burst is over', () => {
    const table = new IdTable<{ n: number }>();
    for (let n = 0; n < 5000; n += 1) table.set(`r${n}`, { n });
    for (let n = 0; n < 5000; n += 2) table.delete(`r${n}`);
    // Half the ids left: new ones fill the emptied slots, the order stays the order of addition.
    for (let n = 5000; n < 5010; n += 1) table.set(`r${n}`, { n });
    const order = table.values().map((v) => v.n);
    assert.deepEqual(order.slice(0, 3), [1, 3, 5]);
    assert.deepEqual(order.slice(-10), Array.from({ length: 10 }, (_, i) => 5000 + i));
    assert.equal(table.size, 2510);
    for (const v of table.values()) table.delete(`r${v.n}`);
    assert.equal(table.size, 0);
    assert.equal((table as unknown as { slots: unknown[] }).slots.length, 0, 'the slot array is released once empty');
    table.set('again', { n: -1 });
    assert.deepEqual(table.values(), [{ n: -1 }]);
  });
});
