// Decoding a large request (about 100,000 members, the default maxJsonKeys)
// vs JSON.parse of the same text: the codec's own work (the limits scan, the
// field lookup in any case) must stay a small part of the parse.
import { decodeRequest } from './subject.js';
import { compare, type Measurement } from './support.js';

function timed(name: string, op: () => unknown, count: number): Measurement {
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i += 1) op();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { name, opsPerSec: count / seconds };
}

export async function run(): Promise<void> {
  const members = Array.from({ length: 99_000 }, (_, i) => `"k${i}":"v${i}"`).join(',');
  const inArgs = `{"id":"x","task":"T","responseHook":"http://127.0.0.1:1/r","args":{${members}}}`;
  const topLevel = `{"ID":"x","TASK":"T","responsehook":"http://127.0.0.1:1/r",${members}}`;
  for (const [title, text] of [['99k members in args', inArgs], ['99k top-level members, keys in other cases', topLevel]] as const) {
    await compare(`decode ${(text.length / 1e6).toFixed(1)} MB, ${title}: JSON.parse (baseline) vs decodeRequest`,
      async () => timed('JSON.parse', () => JSON.parse(text), 8),
      async () => timed('decodeRequest', () => decodeRequest(text), 8));
  }
}
