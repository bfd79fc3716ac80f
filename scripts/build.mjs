// Build dist/ (ESM + type declarations) with the TypeScript compiler.
// Runs on `npm install` (prepare) so the package entry points exist.
import { spawnSync } from 'node:child_process';
import { cpSync, rmSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc');
} catch {
  // Without dev tools (an installed package, or `npm ci --omit=dev` in a clone):
  // an installed package ships dist/ prebuilt; a clone runs its TypeScript
  // sources through tsx (a dependency), so there is nothing to build.
  if (!existsSync('dist/index.js')) console.log('build: typescript is not installed (production install): skipping dist/; `coordinator` runs the sources with tsx');
  process.exit(0);
}
rmSync('dist', { recursive: true, force: true });
const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
if (result.status !== 0) process.exit(result.status ?? 1);

// CommonJS consumers type-checking with module node16/nodenext read the
// `require` condition's types: the same declarations as .d.cts files whose
// relative imports name .cjs, so that TypeScript reads them as CommonJS
// (at run time require() loads the ESM build, Node 20.19+).
function mirror(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) mirror(file);
    else if (entry.name.endsWith('.d.ts')) {
      const text = readFileSync(file, 'utf8').replace(/(from\s+|import\()(['"])(\.{1,2}\/[^'"]+)\.js\2/g, '$1$2$3.cjs$2');
      writeFileSync(file.replace(/\.d\.ts$/, '.d.cts'), text);
    }
  }
}
mirror('dist');

// Files served as they are (the console's script and styles).
cpSync('plugins/operations/console', 'dist/plugins/operations/console', { recursive: true });
