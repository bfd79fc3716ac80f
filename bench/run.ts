// npm run bench [name…]: runs every bench/*.bench.ts (or the named ones).
import { readdirSync, writeFileSync } from 'node:fs';
import { buildDist, results } from './support.js';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

// Every benchmark measures the compiled package (bench/subject.ts): build it first.
buildDist();

const here = import.meta.dirname;
const wanted = process.argv.slice(2);
const files = readdirSync(here).filter((f) => f.endsWith('.bench.ts')).filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)));
console.log(`node ${process.version}, ${files.length} benchmark file(s); ratios compare runs made side by side in this process`);
for (const file of files) {
  console.log(`\n# ${file}`);
  const mod = (await import(pathToFileURL(path.join(here, file)).href)) as { run(): Promise<void> };
  await mod.run();
}

// One table for the whole run, printed and written to bench/results.md.
const started = new Date().toISOString();
const verdict = (r: (typeof results)[number]) => {
  const checks = [...(r.target !== undefined ? [r.ratio >= r.target] : []), ...(r.goal ? [r.goal.met] : [])];
  return checks.length === 0 ? '—' : checks.every(Boolean) ? 'pass' : 'FAIL';
};
const targetText = (r: (typeof results)[number]) => [r.target !== undefined ? `ratio ≥ ${r.target}` : '', r.goal?.text ?? ''].filter(Boolean).join('; ') || '—';
const spreadText = (r: (typeof results)[number]) => (r.spread && r.spread.low !== r.spread.high ? ` (rounds ${r.spread.low.toFixed(3)}–${r.spread.high.toFixed(3)})` : '');
const stealText = (r: (typeof results)[number]) => (r.hostSteal ? `${r.hostSteal.mean.toFixed(1)} % (${r.hostSteal.worst.toFixed(1)} %)` : '—');
const rows = results.map((r) => `| ${r.path} | ${r.ours} | ${r.baseline} | ${r.ratio.toFixed(3)}${spreadText(r)} | ${targetText(r)} | ${verdict(r)} | ${stealText(r)} |`);
const table = ['| path | ours | baseline | ratio (of the medians; lowest–highest single round) | target | result | host CPU steal (over the rounds; worst round) |', '|---|---|---|---|---|---|---|', ...rows].join('\n');
console.log(`\n${table}`);
if (wanted.length === 0) {
  writeFileSync(path.join(here, 'results.md'), `# Benchmark results\n\n\`npm run bench\` on ${process.platform} ${process.arch}, Node ${process.version}, ${started}. Ratios compare the subject with a baseline run side by side in the same process, median of the rounds (this machine is shared and noisy: compare ratios, not absolute numbers). The last column is the share of the CPU time the VM's host took while the row ran (steal, from /proc/stat): the paths that need both cores (the delivery thread, the publish burst's three processes) lose most of it (docs/ARCHITECTURE.md).\n\n${table}\n`);
}
