// npm run bench [name…]: runs every bench/*.bench.ts (or the named ones).
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const here = import.meta.dirname;
const wanted = process.argv.slice(2);
const files = readdirSync(here).filter((f) => f.endsWith('.bench.ts')).filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)));
console.log(`node ${process.version}, ${files.length} benchmark file(s); ratios compare runs made side by side in this process`);
for (const file of files) {
  console.log(`\n# ${file}`);
  const mod = (await import(pathToFileURL(path.join(here, file)).href)) as { run(): Promise<void> };
  await mod.run();
}
