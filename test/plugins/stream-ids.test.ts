import assert from 'node:assert/strict';
import { StreamIdGenerator } from '../../plugins/streaming-control/ids.js';

describe('stream ids', () => {
  it('are 32 lowercase hex digits: the time in ms (8 bytes), a wrapping counter (4 bytes), 4 random bytes', () => {
    const ids = new StreamIdGenerator();
    const first = ids.next(0x0123456789ab);
    assert.match(first, /^[0-9a-f]{32}$/);
    assert.equal(first.slice(0, 16), '00000123456789ab');
    assert.equal(first.slice(16, 24), '00000001');
    const second = ids.next(Date.UTC(2026, 0, 1));
    assert.equal(BigInt(`0x${second.slice(0, 16)}`), BigInt(Date.UTC(2026, 0, 1)));
    assert.equal(second.slice(16, 24), '00000002');
    (ids as unknown as { counter: number }).counter = 0xffffffff;
    assert.equal(ids.next(1).slice(16, 24), '00000000');
    const many = new Set(Array.from({ length: 3000 }, () => ids.next(5).slice(24)));
    assert.ok(many.size > 2990, `the random part repeated: ${3000 - many.size} times`);
  });
});
