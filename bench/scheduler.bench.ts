// Choosing an encoder among 10,000: the O(log n) pool vs a linear scan with
// the same rule (least load, lowest id, capacity respected), in the same run.
import { EncoderPool } from './subject.js';
import { compare } from './support.js';

interface Enc { id: number; capacity: number; load: number }

export async function run(): Promise<void> {
  const N = 10_000;
  const OPS = 200_000;
  const pool = new EncoderPool();
  const list: Enc[] = [];
  for (let id = 1; id <= N; id += 1) {
    const capacity = id % 3 === 0 ? -1 : 50;
    pool.register(id, capacity);
    list.push({ id, capacity, load: 0 });
  }
  const scan = (): Enc | undefined => {
    let best: Enc | undefined;
    for (const e of list) {
      if (!(e.capacity < 0 || e.load < e.capacity)) continue;
      if (!best || e.load < best.load || (e.load === best.load && e.id < best.id)) best = e;
    }
    return best;
  };
  // Each op: choose (take a slot), then release a slot chosen earlier — a steady state.
  await compare(`encoder choice among ${N} encoders (choose + release)`,
    async () => {
      const held: Enc[] = [];
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < OPS / 20; i += 1) {
        const e = scan()!;
        e.load += 1;
        held.push(e);
        if (held.length > 1000) held.shift()!.load -= 1;
      }
      for (const e of held) e.load -= 1;
      return { name: 'linear scan', opsPerSec: (OPS / 20) / (Number(process.hrtime.bigint() - t0) / 1e9) };
    },
    async () => {
      const held: number[] = [];
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < OPS; i += 1) {
        const id = pool.acquire()!;
        held.push(id);
        if (held.length > 1000) pool.release(held.shift()!);
      }
      for (const id of held) pool.release(id);
      return { name: 'EncoderPool (indexed heap)', opsPerSec: OPS / (Number(process.hrtime.bigint() - t0) / 1e9) };
    });
}
