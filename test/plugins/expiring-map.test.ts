import assert from 'node:assert/strict';
import { ExpiringMap } from '../../plugins/shared/expiring-map.js';

describe('ExpiringMap (key-auth cache, console sessions)', () => {
  it('answers until the TTL ends, then forgets the entry', () => {
    const cache = new ExpiringMap<string>(100, 10);
    cache.set('a', 'A', 1_000);
    assert.equal(cache.get('a', 1_099), 'A');
    assert.equal(cache.get('a', 1_100), undefined);
    assert.equal(cache.size, 0);
  });

  it('never holds more than maxEntries: the oldest leaves first', () => {
    const cache = new ExpiringMap<number>(60_000, 3);
    for (let i = 0; i < 1_000; i += 1) cache.set(`k${i}`, i, i);
    assert.equal(cache.size, 3);
    assert.deepEqual(['k996', 'k997', 'k998', 'k999'].map((k) => cache.get(k, 1_000)), [undefined, 997, 998, 999]);
  });

  it('drops expired entries when one is added, so distinct keys over time do not pile up', () => {
    const cache = new ExpiringMap<number>(10, 1_000_000);
    for (let i = 0; i < 10_000; i += 1) cache.set(`k${i}`, i, i);
    // Only the last 10 ms of keys are still valid.
    assert.equal(cache.size, 10);
  });

  it('a refreshed entry moves to the newest end and lives its TTL again', () => {
    const cache = new ExpiringMap<string>(100, 2);
    cache.set('a', 'A', 0);
    cache.set('b', 'B', 10);
    cache.set('a', 'A2', 20);
    cache.set('c', 'C', 30);
    assert.equal(cache.get('b', 30), undefined);
    assert.equal(cache.get('a', 119), 'A2');
    assert.equal(cache.get('c', 30), 'C');
  });

  it('prune() drops what has expired, and only that', () => {
    const cache = new ExpiringMap<number>(100, 100);
    for (let i = 0; i < 20; i += 1) cache.set(`k${i}`, i, i);
    cache.prune(105);
    assert.equal(cache.size, 14);
    assert.equal(cache.get('k5', 105), undefined);
    assert.equal(cache.get('k6', 105), 6);
    cache.delete('k6');
    assert.equal(cache.get('k6', 105), undefined);
  });
});
